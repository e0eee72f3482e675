"""Who is a school leader (lti_tool/outreach/division.py): ``is_leader`` — the one EXISTS the nav asks on
every page — answers exactly as membership of ``leaders()`` does, today and for a given academic year;
``has_items_for_unit`` exactly as ``for_unit`` does."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import FollowUpService
from lti_tool.outreach.letters import LetterService
from lti_tool.outreach.models import FollowUpStatus
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from tests.support import factories as f


def test_is_leader_agrees_with_the_list_of_leaders(db_session: Session, institution_id: int) -> None:
    s, iid = db_session, institution_id
    today = clock.today(s.get(Institution, iid))
    long_ago = today - dt.timedelta(days=800)
    people = [
        f.person(s, iid, "校长", positions=["school_leader"]),
        f.person(s, iid, "副校长", positions=["vp_teaching"]),
        f.person(
            s, iid, "前任副校长", positions=[("school_leader", long_ago, long_ago + dt.timedelta(days=30))]
        ),
        f.person(s, iid, "下月到任", positions=[("school_leader", today + dt.timedelta(days=31), None)]),
        f.person(s, iid, "教务处长", positions=["head_academic_affairs"]),
        f.person(s, iid, "教师"),
    ]
    other = f.institution(s, "OTHER")
    stranger = f.person(s, other, "外校校长", positions=["school_leader"])
    division = DivisionService(s, iid, PolicyStore(s, iid).current())
    years = [None, division.current_year()]
    years += [division.year(f"{y}-{y + 1}") for y in (long_ago.year - 1, long_ago.year)]
    for year in years:
        leaders = {p.id for p in division.leaders(year)}
        assert {p.id for p in people if division.is_leader(p.id, year)} == leaders, year
        assert not division.is_leader(stranger.id, year)
    assert {p.name for p in division.leaders()} == {"校长", "副校长"}
    assert any("前任副校长" in {p.name for p in division.leaders(y)} for y in years[2:])


def test_has_items_for_unit_agrees_with_the_unit_list(db_session: Session, institution_id: int) -> None:
    s, iid = db_session, institution_id
    office = f.unit(s, iid, "学校办公室", kind="department", code="XB", function="school_office")
    jwc = f.unit(s, iid, "教务处", kind="department", code="JWC")
    clerk = f.person(s, iid, "办公室干事", unit=office)
    policy = PolicyStore(s, iid).current()
    follow_ups = FollowUpService(s, iid, policy)
    letters = LetterService(s, iid, policy)
    letter = letters.register(
        clerk.id,
        channel="paper",
        subject="实训室",
        body="希望周末开放",
        writer_name="",
        writer_contact="",
        anonymous=True,
        received_on=str(clock.today(s.get(Institution, iid))),
    )
    # received, not yet routed: no unit has it to answer
    assert follow_ups.for_unit(jwc.id) == [] and not follow_ups.has_items_for_unit(jwc.id)
    letter.follow_up.status = FollowUpStatus.WITH_UNIT
    letter.follow_up.unit_id = jwc.id
    s.flush()
    assert follow_ups.for_unit(jwc.id) and follow_ups.has_items_for_unit(jwc.id)
    assert follow_ups.for_unit(office.id) == [] and not follow_ups.has_items_for_unit(office.id)
