"""Each domain tells people through the one notification call (issue 15 §1): who hears what, and when."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lti_tool.contacts.models import ContactKind, ContactRecord, ContactStatus
from lti_tool.contacts.services import ContactRecordService
from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.notifications.models import Notification
from lti_tool.observations.services import ObservationService
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.tenancy import Institution
from tests.support.worlds import ObservationWorld, complete_fields, observation_world


@pytest.fixture
def world(db_session) -> ObservationWorld:  # type: ignore[no-untyped-def]
    inst = Institution(code="JTI", name="吉林交通职业技术学院")
    db_session.add(inst)
    db_session.flush()
    PolicyStore(db_session, inst.id).ensure_version()
    w = observation_world(db_session, inst.id)
    handler = Person(
        institution_id=inst.id,
        employee_no="H001",
        name="后勤干事",
        email="h001@jti.edu",
        unit_id=w.logistics.id,
    )
    db_session.add(handler)
    db_session.flush()
    w.people["handler"] = handler
    return w


@pytest.fixture
def service(db_session, world: ObservationWorld) -> ObservationService:  # type: ignore[no-untyped-def]
    return ObservationService(
        db_session, world.institution_id, PolicyStore(db_session, world.institution_id).current()
    )


def told(db_session, event: str) -> list[Notification]:  # type: ignore[no-untyped-def]
    db_session.flush()
    return list(db_session.scalars(select(Notification).where(Notification.event == event)))


def test_teacher_told_of_a_record_at_its_class_end_never_of_a_draft(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.autosave(obs, world.observer.id, complete_fields(service.policy), obs.draft_version)
    assert told(db_session, "record_available") == []  # a draft says nothing to anybody (O-12)
    service.submit(obs, world.observer.id)
    (row,) = told(db_session, "record_available")
    assert row.person_id == world.teacher.id and row.channel == "email"
    assert row.not_before == service.class_end(world.session_w1)  # the observations' own rule, O-12
    assert "高等数学" in row.body and world.observer.name not in row.body  # who observed is not said


def test_observer_told_of_the_teachers_reply(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.autosave(obs, world.observer.id, complete_fields(service.policy), obs.draft_version)
    service.submit(obs, world.observer.id)
    service.reply(obs, world.teacher.id, "感谢指导，我会改进板书。")
    (row,) = told(db_session, "record_replied")
    assert row.person_id == world.observer.id and "感谢指导" in row.body and world.teacher.name in row.body


def test_co_observer_told_of_the_invitation(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.add_member(obs, world.observer.id, "L002")
    (row,) = told(db_session, "group_invited")
    assert row.person_id == world.co_observer.id and world.observer.name in row.subject


def test_problem_reaches_its_unit_when_the_record_is_submitted_and_raiser_hears_it_resolved(  # type: ignore[no-untyped-def]
    service, world, db_session
):
    obs = service.start(world.observer.id, world.session_w1.id)
    problem = service.raise_problem(
        obs, world.observer.id, category="facilities", unit_id=world.logistics.id, description="投影仪不亮"
    )
    assert told(db_session, "problem_routed") == []  # not before the record is submitted
    service.autosave(obs, world.observer.id, complete_fields(service.policy), obs.draft_version)
    service.submit(obs, world.observer.id)
    routed = told(db_session, "problem_routed")
    assert {r.person_id for r in routed} == {world.people["handler"].id}
    assert "投影仪不亮" in routed[0].body and "后勤管理处" in routed[0].body
    problems = ProblemService(db_session, world.institution_id, service.policy)
    handler = world.people["handler"]
    problems.step(problem.id, "accepted", handler, "")
    problems.step(problem.id, "resolved", handler, "已更换灯泡")
    (resolved,) = told(db_session, "problem_resolved")
    assert resolved.person_id == world.observer.id and "已更换灯泡" in resolved.body


def test_overdue_problem_told_once(service, world, db_session):  # type: ignore[no-untyped-def]
    problems = ProblemService(db_session, world.institution_id, service.policy)
    (problem,) = problems.raise_problems(
        [NewProblem("facilities", world.logistics.id, "B204", "屋顶漏水")], world.observer.id, patrol_id=None
    )
    assert [r.person_id for r in told(db_session, "problem_routed")] == [world.people["handler"].id]
    assert problems.announce_overdue() == 0  # not overdue yet
    later = utcnow() + dt.timedelta(days=service.policy.problem_overdue_days + 1)
    assert problems.announce_overdue(later) == 1
    assert problems.announce_overdue(later) == 0  # once per problem
    (row,) = told(db_session, "problem_overdue")
    assert row.person_id == world.people["handler"].id and "屋顶漏水" in row.body
    assert db_session.get(Problem, problem.id) is not None


def test_branch_secretary_told_of_an_activity_to_confirm(world, db_session):  # type: ignore[no-untyped-def]
    policy = PolicyStore(db_session, world.institution_id).current()
    positions = sorted(policy.contact.branch_secretary_positions)
    if not positions:
        pytest.skip("the policy names no branch-secretary position")
    branch = Unit(institution_id=world.institution_id, code="B1", name="机电第一党支部", kind="party_branch")
    db_session.add(branch)
    db_session.flush()
    secretary = Person(
        institution_id=world.institution_id, employee_no="S001", name="支部书记", email="s1@jti.edu",
        branch_id=branch.id, party_member=True,
    )  # fmt: skip
    secretary.positions.append(
        PositionHolding(institution_id=world.institution_id, position_code=positions[0])
    )
    db_session.add(secretary)
    db_session.flush()
    record = ContactRecord(
        institution_id=world.institution_id,
        author_id=world.observer.id,
        kind=ContactKind.BRANCH_ACTIVITY,
        date=dt.date(2026, 9, 10),
        target_kind="party_branch",
        unit_id=branch.id,
        content="主题党日：学习全会精神",
        status=ContactStatus.DRAFT,
    )
    db_session.add(record)
    db_session.flush()
    contacts = ContactRecordService(db_session, world.institution_id, policy)
    contacts._announce_submitted(record)  # what submit() calls once the record is complete
    (row,) = told(db_session, "branch_confirmation")
    assert row.person_id == secretary.id and "机电第一党支部" in row.body and "主题党日" in row.body
