"""Reception days (C-6a) on the database: the roster (assign, swap, import), the leader's record with its
visitors and their follow-up through the problem loop, and the duty engine's C-6a row computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.compliance.services import ComplianceService
from lti_tool.errors import Conflict, Forbidden, ValidationFailed
from lti_tool.outreach.models import ReceptionDuty, WeekState
from lti_tool.outreach.reception import ReceptionService, VisitInput
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem
from lti_tool.tenancy import Institution
from tests.support import factories as f


@pytest.fixture
def world(db_session: Session, institution_id: int):  # type: ignore[no-untyped-def]
    s, iid = db_session, institution_id
    today = clock.today(s.get(Institution, iid))
    monday = today - dt.timedelta(days=today.weekday())
    # today is in week 6 of an 18-week semester
    semester = f.semester(s, iid, "2026-2027-1", week1_monday=monday - dt.timedelta(weeks=5), weeks=18)
    hq = f.unit(s, iid, "后勤处", kind="department", code="HQ")
    wang = f.person(s, iid, "王副校长", employee_no="L002", positions=["vp_teaching"])
    li = f.person(s, iid, "李副校长", employee_no="L003", positions=["school_leader"])
    dean = f.person(s, iid, "赵院长", employee_no="H001", positions=["college_dean"])
    policy = PolicyStore(s, iid).current()
    service = ReceptionService(s, iid, policy)
    return locals()


def visitor(**values: str) -> VisitInput:
    base = {"identity": "student", "matter": "宿舍热水", "answer": "已协调后勤处", "outcome": "solved"}
    return VisitInput(**(base | values))


def test_roster_assign_swap_and_refusals(world) -> None:  # type: ignore[no-untyped-def]
    w, svc, sem = world, world["service"], world["semester"]
    svc.assign(sem, "1", w["wang"].id, "行政楼201")
    svc.assign(sem, 2, w["li"].id)
    with pytest.raises(ValidationFailed):  # a college dean is not a school leader
        svc.assign(sem, 3, w["dean"].id)
    with pytest.raises(ValidationFailed):
        svc.assign(sem, 19, w["li"].id)  # past the semester's 18 weeks
    svc.swap(sem, 1, 2)
    roster = svc.roster(sem)
    assert len(roster) == 18
    assert (roster[0].duty.person_id, roster[0].duty.place) == (w["li"].id, "")
    assert (roster[1].duty.person_id, roster[1].duty.place) == (w["wang"].id, "行政楼201")
    assert roster[0].state == WeekState.MISSING and roster[2].state is None  # week 3: nobody scheduled
    with pytest.raises(ValidationFailed):
        svc.swap(sem, 1, 3)  # week 3 has nobody
    record = svc.open_record(roster[0].duty, w["li"].id)
    with pytest.raises(Conflict):  # a week with a record keeps its leader
        svc.swap(sem, 1, 2)
    with pytest.raises(Conflict):
        svc.assign(sem, 1, w["wang"].id)
    assert record.status == "draft"


def test_import_reports_rows_and_stores_nothing_on_error(world) -> None:  # type: ignore[no-untyped-def]
    w, svc, sem = world, world["service"], world["semester"]
    bad = "周次,工号,地点\n1,L002,行政楼201\n1,L003,\n40,L003,\n2,H001,\n".encode()
    with pytest.raises(ValidationFailed) as err:
        svc.import_roster(sem, bad, "roster.csv", store=True)
    details = "\n".join(str(d) for d in err.value.details)
    assert (
        "第 3 行" in details and "第 4 行" in details and "第 5 行" in details and "第 2 行，" not in details
    )
    assert w["s"].scalars(select(ReceptionDuty)).all() == []
    good = "周次,工号,地点\n1,L002,行政楼201\n2,L003,\n".encode()
    preview = svc.import_roster(sem, good, "roster.csv", store=False)
    assert preview.assigned == 2 and w["s"].scalars(select(ReceptionDuty)).all() == []
    svc.import_roster(sem, good, "roster.csv", store=True)
    assert [(d.week, d.person_id) for d in svc.roster(sem) if d.duty for d in [d.duty]] == [
        (1, w["wang"].id),
        (2, w["li"].id),
    ]


def test_a_week_recorded_with_visitors_and_follow_up(world) -> None:  # type: ignore[no-untyped-def]
    w, svc, sem = world, world["service"], world["semester"]
    svc.assign(sem, 6, w["wang"].id)  # this week
    duty = svc.roster(sem)[5].duty
    with pytest.raises(Forbidden):
        svc.open_record(duty, w["li"].id)
    record = svc.open_record(duty, w["wang"].id)
    with pytest.raises(ValidationFailed):  # neither visitors nor "no visitors"
        svc.submit(record, w["wang"].id)
    with pytest.raises(ValidationFailed):  # a follow-up without its unit is refused, nothing stored
        svc.add_visit(record, w["wang"].id, visitor(follow_up="请后勤处一周内修复"))
    assert record.visits == []
    svc.add_visit(
        record,
        w["wang"].id,
        visitor(
            visitor_name="",
            follow_up="请后勤处一周内修复",
            follow_up_unit_id=str(w["hq"].id),
            follow_up_category="facilities",
        ),
    )
    svc.add_visit(
        record, w["wang"].id, visitor(identity="retiree", matter="老干部活动室", outcome="explained")
    )
    with pytest.raises(ValidationFailed):
        svc.update(record, w["wang"].id, date=str(record.date), place="", no_visitors=True)
    assert w["s"].scalars(select(Problem)).all() == []  # not before the week is submitted
    svc.submit(record, w["wang"].id)
    problem = w["s"].scalars(select(Problem)).one()
    assert problem.unit_id == w["hq"].id and problem.reception_visit_id == record.visits[0].id
    assert problem.category == "facilities" and problem.status == "new"
    with pytest.raises(Conflict):
        svc.add_visit(record, w["wang"].id, visitor())


def test_c6a_by_the_engine_computed_by_hand(world) -> None:  # type: ignore[no-untyped-def]
    """王: weeks 1, 3, 6 and 12 — week 1 recorded, week 3 not (ended: missing), week 6 under way, week 12
    ahead: 1 recorded of 4 scheduled, short, missing week 3. 李: week 2 recorded as "no visitors": 1 of 1,
    ok. The dean holds no school-leader position: no C-6a row."""
    w, svc, sem = world, world["service"], world["semester"]
    for week, who in ((1, "wang"), (2, "li"), (3, "wang"), (6, "wang"), (12, "wang")):
        svc.assign(sem, week, w[who].id)
    roster = svc.roster(sem)
    first = svc.open_record(roster[0].duty, w["wang"].id)
    svc.update(
        first, w["wang"].id, date=str(roster[0].start + dt.timedelta(days=2)), place="", no_visitors=True
    )
    svc.submit(first, w["wang"].id)
    second = svc.open_record(roster[1].duty, w["li"].id)
    svc.update(second, w["li"].id, date=str(roster[1].start), place="", no_visitors=True)
    svc.submit(second, w["li"].id)
    svc.open_record(roster[2].duty, w["wang"].id)  # week 3: a draft is not a record
    report = ComplianceService(w["s"], w["iid"]).evaluate(sem, system="contact")
    wang = report.person(w["wang"].id).result("C-6a")
    assert (wang.required, wang.done, wang.status) == (4, 1, "short")
    assert [m.code for m in wang.missing] == ["week:3"]
    li = report.person(w["li"].id).result("C-6a")
    assert (li.required, li.done, li.status) == (1, 1, "ok")
    dean = report.person(w["dean"].id)
    assert dean is None or dean.result("C-6a") is None
    assert [s for _, s in svc.my_weeks(w["wang"].id, sem)] == [
        WeekState.RECORDED,
        WeekState.MISSING,
        WeekState.CURRENT,
        WeekState.UPCOMING,
    ]
