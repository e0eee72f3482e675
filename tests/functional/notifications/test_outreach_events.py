"""Letters and proposals tell people through the one notification call (issue 15 §1): the leader in charge and
the handling units when the follow-up loop hands them an item, whoever owes the step when it is overdue (once
per deadline, even with two workers), the writer or the proposer when the answer is released — and nobody
learns who wrote an anonymous letter."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.notifications.models import Notification
from lti_tool.notifications.services import NotificationService
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import Acting, FollowUpService
from lti_tool.outreach.letters import AUTO, LetterService
from lti_tool.outreach.proposals import ProposalService
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from tests.support import factories as f


@pytest.fixture
def world(db_session: Session, institution_id: int):  # type: ignore[no-untyped-def]
    s, iid = db_session, institution_id
    office = f.unit(s, iid, "学校办公室", kind="department", code="XB", function="school_office")
    jwc = f.unit(s, iid, "教务处", kind="department", code="JWC")
    hq = f.unit(s, iid, "后勤处", kind="department", code="HQ")
    clerk = f.person(s, iid, "办公室干事", employee_no="X001", unit=office, email="x001@jti.edu")
    wang = f.person(s, iid, "王副校长", employee_no="L002", positions=["vp_teaching"], email="l002@jti.edu")
    li = f.person(s, iid, "李副校长", employee_no="L003", positions=["school_leader"], email="l003@jti.edu")
    handler = f.person(s, iid, "教务干事", employee_no="J001", unit=jwc, email="j001@jti.edu")
    handler2 = f.person(s, iid, "教务科长", employee_no="J002", unit=jwc, email="j002@jti.edu")
    cook = f.person(s, iid, "后勤干事", employee_no="H001", unit=hq, email="h001@jti.edu")
    writer = f.person(s, iid, "普通教师", employee_no="T001", email="t001@jti.edu")
    policy = PolicyStore(s, iid).current()
    today = clock.today(s.get(Institution, iid))
    division = DivisionService(s, iid, policy)
    division.set(division.current_year(), "teaching", wang.id, "分管教学")
    return locals()


def told(s: Session, event: str) -> list[Notification]:
    s.flush()
    return list(s.scalars(select(Notification).where(Notification.event == event).order_by(Notification.id)))


def people(rows: list[Notification]) -> list[int]:
    return sorted(r.person_id for r in rows)


def _letter(w, *, anonymous: bool = True):  # type: ignore[no-untyped-def]
    letters = LetterService(w["s"], w["iid"], w["policy"])
    letter = letters.write(
        person_id=w["writer"].id,
        platform_user_id=None,
        name="普通教师",
        subject="实训室开放时间",
        body="希望周末开放实训室。",
        anonymous=anonymous,
    )
    return letters, letter


def test_a_letter_tells_the_leader_then_the_units_then_the_writer_and_never_names_the_writer(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    s = w["s"]
    letters, letter = _letter(w)
    fu = letter.follow_up
    office, leader = Acting(w["clerk"].id, office=True), Acting(w["wang"].id)
    assert told(s, "letter_routed") == []  # written: only the office handles it, nobody is told yet
    deadline = w["today"] + dt.timedelta(days=10)
    letters.route(letter, office, area="teaching", leader=AUTO, deadline=deadline.isoformat())
    (to_leader,) = told(s, "letter_routed")
    assert to_leader.person_id == w["wang"].id and to_leader.channel == "email"
    assert "实训室开放时间" in to_leader.subject and deadline.isoformat() in to_leader.body
    letters.loop.instruct(fu, leader, "请教务处研究答复。", w["jwc"].id, [w["hq"].id])
    to_units = told(s, "letter_routed")[1:]
    # the handling unit's people and the assisting unit's: one row each
    assert people(to_units) == sorted([w["handler"].id, w["handler2"].id, w["cook"].id])
    letters.loop.answer(fu, Acting(w["handler"].id), "周六上午开放。")
    letters.loop.return_to_unit(fu, office, "请写明开放的实训室。")
    assert people(told(s, "letter_routed")[4:]) == sorted([w["handler"].id, w["handler2"].id])
    letters.loop.answer(fu, Acting(w["handler"].id), "周六上午开放汽车实训室。")
    assert told(s, "letter_answered") == []  # answered is not released
    letters.loop.release(fu, office)
    (answered,) = told(s, "letter_answered")
    assert answered.person_id == w["writer"].id and "实训室开放时间" in answered.subject
    # the anonymous writer is named in no message anybody gets, and only the writer hears of the answer
    for row in s.scalars(select(Notification)):
        assert "普通教师" not in row.subject + row.body and "T001" not in row.body
        assert row.person_id != w["writer"].id or row.event == "letter_answered"
    assert w["li"].id not in {r.person_id for r in s.scalars(select(Notification))}


def test_a_proposal_tells_its_units_at_acceptance_and_again_in_round_two(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    s = w["s"]
    proposals = ProposalService(s, w["iid"], w["policy"])
    congress = proposals.create_session(
        body="staff", number="3", title="第五届教代会第三次会议", held_on=w["today"].isoformat()
    )
    proposal = proposals.register(
        congress,
        w["clerk"].id,
        proposer_name="普通教师",
        proposer_employee_no="T001",
        cosigners="",
        title="增加教工停车位",
        content="建议在东门增设停车位。",
    )
    office = Acting(w["clerk"].id, office=True)
    deadline = (w["today"] + dt.timedelta(days=20)).isoformat()
    proposals.accept(proposal, office, unit=w["hq"].id, helpers=[], deadline=deadline)
    (routed,) = told(s, "proposal_routed")
    assert routed.person_id == w["cook"].id and "增加教工停车位" in routed.body
    fu = proposal.follow_up
    proposals.loop.answer(fu, Acting(w["cook"].id), "已规划20个车位。")
    assert told(s, "proposal_answered") == []  # answered is not released
    proposals.loop.release(fu, office)
    assert told(s, "letter_answered") == []
    (answered,) = told(s, "proposal_answered")  # the proposer on the roster, asked for their view
    assert answered.person_id == w["writer"].id and "增加教工停车位" in answered.subject
    proposals.satisfaction(proposal, Acting(w["writer"].id, originator=True), "unsatisfied", "太少")
    assert people(told(s, "proposal_routed")) == [w["cook"].id, w["cook"].id]  # round 2 reaches it again
    proposals.loop.answer(fu, Acting(w["cook"].id), "已规划40个车位。")
    proposals.loop.release(fu, office)
    assert people(told(s, "proposal_answered")) == [w["writer"].id, w["writer"].id]  # the second answer too


def test_overdue_items_are_told_once_per_deadline_to_whoever_owes_the_step(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    s = w["s"]
    letters, letter = _letter(w)
    fu = letter.follow_up
    office = Acting(w["clerk"].id, office=True)
    letters.route(
        letter, office, area="teaching", leader=AUTO, deadline=(w["today"] + dt.timedelta(days=3)).isoformat()
    )
    loop = FollowUpService(s, w["iid"], w["policy"])
    assert loop.announce_overdue(w["today"]) == 0  # not due yet
    later = w["today"] + dt.timedelta(days=5)
    # a second worker picked the same candidates before the first one told them
    stale = loop.overdue_candidates(later)
    assert [c.id for c in stale] == [fu.id]
    assert loop.announce_overdue(later) == 1
    (row,) = told(s, "letter_overdue")
    assert row.person_id == w["wang"].id and "实训室开放时间" in row.body  # the leader owes the 批示
    assert [loop.claim_overdue(c) for c in stale] == [False]  # the second worker's claim matches no row
    assert loop.announce_overdue(later) == 0
    # handed to the unit while overdue: the unit now owing the step hears it, once
    letters.loop.instruct(fu, Acting(w["wang"].id), "请教务处答复。", w["jwc"].id)
    assert loop.announce_overdue(later) == 2
    assert people(told(s, "letter_overdue")[1:]) == sorted([w["handler"].id, w["handler2"].id])
    assert loop.announce_overdue(later) == 0
    # the office moves the deadline (督办): told again only once the new deadline has passed
    letters.loop.reroute(fu, Acting(w["clerk"].id, office=True), deadline=later + dt.timedelta(days=1))
    assert loop.announce_overdue(later) == 0
    assert loop.announce_overdue(later + dt.timedelta(days=3)) == 2
    assert len(told(s, "letter_overdue")) == 5
    # answered items are not overdue
    letters.loop.answer(fu, Acting(w["handler"].id), "已答复")
    fu.deadline = later + dt.timedelta(days=2)
    s.flush()
    assert loop.announce_overdue(later + dt.timedelta(days=9)) == 0


def test_preferences_are_respected(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    s = w["s"]
    NotificationService(s, w["iid"]).set_preferences(w["wang"].id, set())  # 王 turned everything off
    NotificationService(s, w["iid"]).set_preferences(
        w["handler"].id, {("letter_overdue", "email")}
    )  # 教务干事 keeps only the overdue letters
    letters, letter = _letter(w, anonymous=False)
    office = Acting(w["clerk"].id, office=True)
    letters.route(
        letter, office, area="teaching", leader=AUTO, deadline=(w["today"] + dt.timedelta(days=3)).isoformat()
    )
    assert told(s, "letter_routed") == []
    letters.loop.instruct(letter.follow_up, Acting(w["wang"].id), "请教务处答复。", w["jwc"].id)
    assert people(told(s, "letter_routed")) == [w["handler2"].id]
    FollowUpService(s, w["iid"], w["policy"]).announce_overdue(w["today"] + dt.timedelta(days=5))
    assert people(told(s, "letter_overdue")) == sorted([w["handler"].id, w["handler2"].id])


def test_another_institution_hears_nothing(world, session_factory) -> None:  # type: ignore[no-untyped-def]
    w = world
    s = w["s"]
    other = Institution(code="OTH", name="另一学院")
    s.add(other)
    s.flush()
    PolicyStore(s, other.id).ensure_version()
    stranger_unit = f.unit(s, other.id, "教务处", kind="department", code="JWC")
    stranger = f.person(s, other.id, "外校干事", employee_no="J001", unit=stranger_unit, email="j@oth.edu")
    letters, letter = _letter(w)
    office = Acting(w["clerk"].id, office=True)
    letters.route(
        letter, office, area="teaching", leader=AUTO, deadline=(w["today"] + dt.timedelta(days=3)).isoformat()
    )
    letters.loop.instruct(letter.follow_up, Acting(w["wang"].id), "请教务处答复。", w["jwc"].id)
    FollowUpService(s, w["iid"], w["policy"]).announce_overdue(w["today"] + dt.timedelta(days=5))
    other_loop = FollowUpService(s, other.id, PolicyStore(s, other.id).current())
    assert other_loop.overdue_candidates(w["today"] + dt.timedelta(days=5)) == []
    assert other_loop.announce_overdue(w["today"] + dt.timedelta(days=5)) == 0
    rows = list(s.scalars(select(Notification)))
    assert rows and all(r.institution_id == w["iid"] for r in rows)
    assert stranger.id not in {r.person_id for r in rows}
