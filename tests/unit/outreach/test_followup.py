"""The one follow-up loop (lti_tool/outreach/followup.py) through the letter and proposal services: every
step, who may take it (403 before any 409), nothing closed without an answer or a reason, anonymity, the
proposer's second round, overdue by the college's today."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import Acting, FollowUpService
from lti_tool.outreach.letters import AUTO, LetterService
from lti_tool.outreach.models import FollowUpStatus, follow_up_overdue
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
    clerk = f.person(s, iid, "办公室干事", employee_no="X001", unit=office)
    wang = f.person(s, iid, "王副校长", employee_no="L002", positions=["vp_teaching"])
    li = f.person(s, iid, "李副校长", employee_no="L003", positions=["school_leader"])
    handler = f.person(s, iid, "教务干事", employee_no="J001", unit=jwc)
    cook = f.person(s, iid, "后勤干事", employee_no="H001", unit=hq)
    teacher = f.person(s, iid, "普通教师", employee_no="T001")
    policy = PolicyStore(s, iid).current()
    today = clock.today(s.get(Institution, iid))
    division = DivisionService(s, iid, policy)
    division.set(division.current_year(), "teaching", wang.id, "分管教学")
    division.set(division.current_year(), "logistics", li.id)
    return locals()


def test_a_letter_from_writing_to_the_released_answer(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    letters = LetterService(w["s"], w["iid"], w["policy"])
    letter = letters.write(
        person_id=w["teacher"].id,
        platform_user_id=None,
        name="普通教师",
        subject="实训室开放时间",
        body="希望周末开放实训室。",
        anonymous=True,
    )
    fu = letter.follow_up
    office = Acting(w["clerk"].id, office=True)
    leader = Acting(w["wang"].id)
    unit = Acting(w["handler"].id)
    assert fu.status == FollowUpStatus.RECEIVED
    # only the office routes; an outsider gets 403 whatever the state
    with pytest.raises(Forbidden):
        letters.route(
            letter, unit, area="teaching", leader=AUTO, deadline=str(w["today"] + dt.timedelta(days=10))
        )
    letters.route(
        letter, office, area="teaching", leader=AUTO, deadline=str(w["today"] + dt.timedelta(days=10))
    )
    assert fu.status == FollowUpStatus.WITH_LEADER and fu.leader_id == w["wang"].id  # by the division of work
    with pytest.raises(Forbidden):  # another leader has no part
        letters.loop.instruct(fu, Acting(w["li"].id), "请处理", w["jwc"].id)
    with pytest.raises(ValidationFailed):  # the instruction is required; nothing changes
        letters.loop.instruct(fu, leader, "  ", w["jwc"].id)
    assert fu.status == FollowUpStatus.WITH_LEADER
    letters.loop.instruct(fu, leader, "请教务处研究答复。", w["jwc"].id, [w["hq"].id])
    assert fu.status == FollowUpStatus.WITH_UNIT and fu.unit_id == w["jwc"].id
    assert letters.loop.allowed(fu, Acting(w["cook"].id)) == []  # the assisting unit sees, does not answer
    assert letters.loop.can_see(fu, Acting(w["cook"].id))
    with pytest.raises(Forbidden):
        letters.loop.answer(fu, Acting(w["cook"].id), "好")
    letters.loop.answer(fu, unit, "周六上午开放。")
    letters.loop.return_to_unit(fu, office, "请写明开放的实训室。")
    assert fu.status == FollowUpStatus.WITH_UNIT
    letters.loop.answer(fu, unit, "周六上午开放汽车实训室。")
    with pytest.raises(Conflict):  # the unit cannot answer twice: it is the office's turn
        letters.loop.answer(fu, unit, "again")
    letters.loop.release(fu, office)
    assert fu.status == FollowUpStatus.CLOSED and fu.outcome == "answered" and fu.released_at is not None
    assert [e.step for e in fu.events] == [
        "received",
        "accept",
        "instruct",
        "answer",
        "return",
        "answer",
        "release",
    ]
    # the writer finds it among their letters; anonymous: the office sees the writer, nobody else does
    assert letters.mine(w["teacher"].id, None) == [letter]
    assert LetterService.writer_for(letter, office=True) == "普通教师"
    assert LetterService.writer_for(letter, office=False) is None
    with pytest.raises(NotFound):
        letters.mine_one(letter.id, w["handler"].id, None)


def test_nobody_in_charge_and_screening_out_needs_a_reason(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    letters = LetterService(w["s"], w["iid"], w["policy"])
    office = Acting(w["clerk"].id, office=True)
    letter = letters.register(
        w["clerk"].id,
        channel="paper",
        subject="食堂",
        body="饭菜涨价",
        writer_name="学生甲",
        writer_contact="",
        anonymous=False,
        received_on=str(w["today"]),
    )
    deadline = str(w["today"] + dt.timedelta(days=5))
    with pytest.raises(ValidationFailed) as err:  # finance: nobody named in the division of work
        letters.route(letter, office, area="finance", leader=AUTO, deadline=deadline)
    assert "finance" not in str(err.value.details)  # the area's name, not its code
    with pytest.raises(ValidationFailed):
        letters.screen_out(letter, office, "duplicate", "")
    with pytest.raises(ValidationFailed):
        letters.screen_out(letter, office, "answered", "不是关闭理由")
    assert letter.follow_up.status == FollowUpStatus.RECEIVED
    letters.screen_out(letter, office, "not_for_leaders", "属后勤日常事务，已转后勤处")
    assert letter.follow_up.status == FollowUpStatus.CLOSED and letter.follow_up.reason.startswith("属后勤")
    with pytest.raises(ValidationFailed):  # a deadline in the past is refused
        other = letters.register(
            w["clerk"].id,
            channel="email",
            subject="x",
            body="y",
            writer_name="",
            writer_contact="",
            anonymous=True,
            received_on=str(w["today"]),
        )
        letters.route(
            other, office, area="teaching", leader=AUTO, deadline=str(w["today"] - dt.timedelta(days=1))
        )


def test_overdue_is_by_the_college_today() -> None:
    today = dt.date(2026, 12, 4)
    assert follow_up_overdue("with_unit", dt.date(2026, 12, 3), today)
    assert not follow_up_overdue("with_unit", today, today)
    assert follow_up_overdue("with_leader", dt.date(2026, 12, 1), today)
    assert not follow_up_overdue("answered", dt.date(2026, 12, 1), today)  # the office's turn now
    assert not follow_up_overdue("closed", dt.date(2026, 12, 1), today)


def test_a_proposal_goes_back_once_when_the_proposer_is_not_satisfied(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    proposals = ProposalService(w["s"], w["iid"], w["policy"])
    congress = proposals.create_session(
        body="staff", number="5", title="第五届教代会第三次会议", held_on=str(w["today"])
    )
    with pytest.raises(Conflict):
        proposals.create_session(body="staff", number=5, title="again", held_on=str(w["today"]))
    p1 = proposals.register(
        congress,
        w["clerk"].id,
        proposer_name="普通教师",
        proposer_employee_no="T001",
        cosigners="甲、乙",
        title="增加停车位",
        content="……",
    )
    p2 = proposals.register(
        congress,
        w["clerk"].id,
        proposer_name="某代表",
        proposer_employee_no="",
        cosigners="",
        title="提高课时费",
        content="……",
    )
    assert (p1.number, p2.number) == (1, 2) and p1.proposer_id == w["teacher"].id
    office = Acting(w["clerk"].id, office=True)
    deadline = str(w["today"] + dt.timedelta(days=30))
    proposals.accept(p1, office, unit=w["hq"].id, helpers=[w["jwc"].id], deadline=deadline)
    proposals.decline(p2, office, "属个人待遇问题，转人事处答复")
    tally = proposals.tally(proposals.listing(congress))
    assert (tally["with_unit"], tally["closed"], tally["declined"], tally["unanswered"]) == (1, 1, 1, 1)
    fu = p1.follow_up
    unit = Acting(w["cook"].id)
    proposals.loop.answer(fu, unit, "新增车位50个。")
    proposals.loop.release(fu, office)
    assert fu.status == FollowUpStatus.RELEASED
    proposer = proposals.acting(p1, w["teacher"].id, office=False)
    with pytest.raises(Forbidden):
        proposals.satisfaction(p1, proposals.acting(p1, w["handler"].id, office=False), "satisfied")
    with pytest.raises(ValidationFailed):  # "not satisfied" says why
        proposals.satisfaction(p1, proposer, "unsatisfied", "")
    proposals.satisfaction(p1, proposer, "unsatisfied", "车位仍不够")
    assert (fu.status, fu.round, p1.satisfaction) == (FollowUpStatus.WITH_UNIT, 2, "unsatisfied")
    proposals.loop.answer(fu, unit, "再增加30个。")
    proposals.loop.release(fu, office)
    proposals.satisfaction(p1, proposer, "unsatisfied", "仍不满意")  # the second round closes anyway
    assert (
        fu.status == FollowUpStatus.CLOSED and fu.outcome == "answered" and p1.satisfaction == "unsatisfied"
    )
    assert proposals.tally(proposals.listing(congress))["unanswered"] == 0


def test_another_institution_sees_nothing(world, db_session: Session) -> None:  # type: ignore[no-untyped-def]
    w = world
    letters = LetterService(w["s"], w["iid"], w["policy"])
    letter = letters.write(
        person_id=w["teacher"].id, platform_user_id=None, name="x", subject="s", body="b", anonymous=False
    )
    other = f.institution(db_session, "OTHER")
    theirs = LetterService(db_session, other.id, PolicyStore(db_session, other.id).current())
    with pytest.raises(NotFound):
        theirs.get(letter.id)
    with pytest.raises(NotFound):
        FollowUpService(db_session, other.id, theirs.policy).get(letter.follow_up_id)
    assert theirs.office_list("all") == []
