"""Which contact records count (lti_tool/contacts/counting.py): submitted only, once per member of a group
record, a branch activity only once confirmed by the branch or on paper (C-3c)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from lti_tool.contacts.counting import counted_contacts
from lti_tool.contacts.models import ContactMember, ContactRecord, ContactRole
from lti_tool.directory.models import Person, Unit

D = dt.date


def record(s: Session, iid: int, author: Person, members: list[Person], **values: object) -> ContactRecord:
    values.setdefault("status", "submitted")
    r = ContactRecord(institution_id=iid, author_id=author.id, **values)
    r.members = [
        ContactMember(
            institution_id=iid, person_id=p.id, role=ContactRole.AUTHOR if p is author else ContactRole.MEMBER
        )
        for p in members
    ]
    s.add(r)
    s.flush()
    return r


def test_counting_rules(db_session: Session, institution_id: int) -> None:
    s, iid = db_session, institution_id
    college = Unit(institution_id=iid, code="QC", name="汽车工程学院", kind="college")
    s.add(college)
    s.flush()
    branch = Unit(
        institution_id=iid, code="QC-DZB1", name="教工党支部", kind="party_branch", parent_id=college.id
    )
    a = Person(institution_id=iid, employee_no="1", name="甲")
    b = Person(institution_id=iid, employee_no="2", name="乙")
    s.add_all([branch, a, b])
    s.flush()
    at_college = {"target_kind": "college", "unit_id": college.id}
    at_branch = {"kind": "branch_activity", "target_kind": "party_branch", "unit_id": branch.id}
    visit = record(s, iid, a, [a, b], kind="visit", date=D(2026, 10, 9), **at_college)
    record(s, iid, a, [a], kind="visit", date=D(2026, 10, 10), status="draft", **at_college)
    pending = record(s, iid, b, [b], date=D(2026, 11, 3), **at_branch)
    paper = record(s, iid, a, [a], date=D(2026, 11, 4), confirmed_on_paper=True, **at_branch)
    record(s, iid, a, [a], kind="visit", date=D(2027, 3, 1), **at_college)  # the next semester

    rows = counted_contacts(s, iid, D(2026, 9, 1), D(2027, 1, 31))
    assert [(r.person_id, r.record_id) for r in rows] == [
        (a.id, visit.id),
        (b.id, visit.id),  # a group visit counts once for each member
        (a.id, paper.id),  # confirmed on paper by the school office
    ]
    assert rows[2].unit_parent_id == college.id and rows[2].branch_confirmed
    waiting = counted_contacts(s, iid, D(2026, 9, 1), D(2027, 1, 31), include_unconfirmed=True)
    assert (b.id, pending.id, False) in [(r.person_id, r.record_id, r.branch_confirmed) for r in waiting]
    only_b = counted_contacts(s, iid, D(2026, 9, 1), D(2027, 1, 31), person_ids=[b.id])
    assert [r.record_id for r in only_b] == [visit.id]
