"""ObservationService on a real session: the record's life, group observation, problems, feedback, locking."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lti_tool.db import utcnow
from lti_tool.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lti_tool.observations.models import (
    MemberRole,
    MemberStatus,
    Observation,
    ObservationAudit,
    ObservationMember,
)
from lti_tool.observations.services import ObservationService, RecordFilter, RecordIncomplete
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem, ProblemEvent
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import SessionStatus
from tests.support.worlds import ObservationWorld, complete_fields, observation_world


@pytest.fixture
def world(db_session) -> ObservationWorld:  # type: ignore[no-untyped-def]
    inst = Institution(code="JTI", name="吉林交通职业技术学院")
    db_session.add(inst)
    db_session.flush()
    PolicyStore(db_session, inst.id).ensure_version()
    return observation_world(db_session, inst.id)


@pytest.fixture
def service(db_session, world: ObservationWorld) -> ObservationService:  # type: ignore[no-untyped-def]
    policy = PolicyStore(db_session, world.institution_id).current()
    return ObservationService(db_session, world.institution_id, policy)


def _submitted(service: ObservationService, world: ObservationWorld, who=None) -> Observation:  # type: ignore[no-untyped-def]
    who = who or world.observer
    obs = service.start(who.id, world.session_w1.id)
    service.autosave(obs, who.id, complete_fields(service.policy), obs.draft_version)
    return service.submit(obs, who.id)


# -- start (O-11) -------------------------------------------------------------------------------------
def test_start_creates_one_draft_and_reuses_it(service, world):  # type: ignore[no-untyped-def]
    first = service.start(world.observer.id, world.session_w1.id)
    again = service.start(world.observer.id, str(world.session_w1.id))
    assert first.id == again.id and first.status == "draft" and first.semester_id == world.semester.id
    other = service.start(world.co_observer.id, world.session_w1.id)
    assert other.id != first.id


def test_start_refuses_part_time_course_O10(service, world):  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="full-time"):
        service.start(world.observer.id, world.adult_session.id)


def test_start_refuses_vanished_session_and_archived_semester(service, world, db_session):  # type: ignore[no-untyped-def]
    world.session_w3.status = SessionStatus.VANISHED
    db_session.flush()
    with pytest.raises(Conflict, match="no longer"):
        service.start(world.observer.id, world.session_w3.id)
    world.semester.status = "archived"
    db_session.flush()
    with pytest.raises(Conflict, match="archived"):
        service.start(world.observer.id, world.session_w1.id)


def test_start_refuses_another_institutions_session(service, world, db_session):  # type: ignore[no-untyped-def]
    other = Institution(code="OTHER", name="别的学院")
    db_session.add(other)
    db_session.flush()
    other_world = observation_world(db_session, other.id)
    with pytest.raises(NotFound):
        service.start(world.observer.id, other_world.session_w1.id)
    with pytest.raises(NotFound):
        service.start(other_world.observer.id, world.session_w1.id)


def test_teacher_cannot_observe_own_class(service, world):  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="teach"):
        service.start(world.teacher.id, world.session_w1.id)


# -- autosave -----------------------------------------------------------------------------------------
def test_autosave_keeps_partial_data_and_bumps_version(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    result = service.autosave(
        obs,
        world.observer.id,
        {"narrative": "开始上课", "rating__attitude": "良", "arrival_time": "10:05"},
        0,
    )
    assert obs.draft_version == 1 and result.invalid == {}
    db_session.expire_all()
    stored = db_session.get(Observation, obs.id)
    assert stored.narrative == "开始上课" and stored.arrived_late  # 10:05 is after the 10:00 start (O-12)
    assert {r.dimension: r.rating for r in stored.ratings} == {"attitude": "good"}


def test_autosave_stale_version_is_refused(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.autosave(obs, world.observer.id, {"narrative": "newer text from the phone"}, 0)
    with pytest.raises(Conflict) as err:
        service.autosave(obs, world.observer.id, {"narrative": "older tab"}, 0)
    assert err.value.status == 409
    assert obs.narrative == "newer text from the phone"


def test_autosave_reports_unreadable_values_and_stores_the_rest(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    result = service.autosave(
        obs,
        world.observer.id,
        {
            "arrival_time": "25:99",
            "present_count": "many",
            "rating__attitude": "great",
            "bogus": "x",
            "narrative": "kept",
        },
        0,
    )
    assert set(result.invalid) == {"arrival_time", "present_count", "rating__attitude", "bogus"}
    assert obs.narrative == "kept" and obs.arrival_time is None


def test_autosave_refuses_non_text_for_text_fields(service, world):  # type: ignore[no-untyped-def]
    """A JSON object, list, number or boolean sent for a text field is refused, not stored as its repr."""
    obs = service.start(world.observer.id, world.session_w1.id)
    service.autosave(obs, world.observer.id, {"narrative": "kept"}, 0)
    for odd in ({"a": 1}, ["x"], 42, True):
        result = service.autosave(obs, world.observer.id, {"narrative": odd}, obs.draft_version)
        assert set(result.invalid) == {"narrative"}
    assert obs.narrative == "kept"


def test_only_the_author_may_save(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    with pytest.raises(Forbidden):
        service.autosave(obs, world.co_observer.id, {"narrative": "x"}, 0)


# -- submit (O-13) ------------------------------------------------------------------------------------
def test_submit_names_every_missing_field(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    fields = complete_fields(service.policy, narrative="  ", present_count="50", exchange_teacher_text="")
    del fields["rating__effect"]
    del fields["exchange_students_done"]
    service.autosave(obs, world.observer.id, fields, 0)
    with pytest.raises(RecordIncomplete) as err:
        service.submit(obs, world.observer.id)
    assert set(err.value.fields) == {
        "rating__effect",
        "narrative",
        "present_count",
        "exchange_teacher_text",
        "exchange_students_done",
    }
    assert err.value.status == 422 and obs.status == "draft"
    assert any("教学效果" in d for d in err.value.plain_details())


def test_submit_flags_late_arrival_and_signs_author(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.autosave(obs, world.observer.id, complete_fields(service.policy, arrival_time="10:10"), 0)
    service.submit(obs, world.observer.id)
    assert obs.status == "submitted" and obs.submitted_at is not None and obs.arrived_late
    author = db_session.scalars(
        select(ObservationMember).where(ObservationMember.observation_id == obs.id)
    ).one()
    assert (author.person_id, author.role, author.status, author.session_id) == (
        world.observer.id,
        MemberRole.AUTHOR,
        MemberStatus.SIGNED,
        world.session_w1.id,
    )
    with pytest.raises(Conflict):
        service.submit(obs, world.observer.id)


def test_on_time_arrival_is_not_flagged(service, world):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    assert not obs.arrived_late


# -- corrections --------------------------------------------------------------------------------------
def test_correction_within_window_is_audited(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    service.correct(obs, world.observer.id, {"suggestions": "多设计互动", "rating__effect": "good"})
    trail = db_session.scalars(
        select(ObservationAudit)
        .where(ObservationAudit.observation_id == obs.id)
        .order_by(ObservationAudit.id)
    ).all()
    assert [(a.field, a.before, a.after, a.person_id) for a in trail] == [
        ("suggestions", "增加课堂提问", "多设计互动", world.observer.id),
        ("rating__effect", "优", "良", world.observer.id),
    ]


def test_correction_cannot_empty_a_required_field(service, world):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    with pytest.raises(RecordIncomplete) as err:
        service.correct(obs, world.observer.id, {"narrative": ""})
    assert set(err.value.fields) == {"narrative"}
    assert obs.narrative.startswith("教师")


def test_autosave_of_submitted_record_coalesces_audit(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    service.autosave(obs, world.observer.id, {"strengths": "板书清晰，"}, obs.draft_version)
    service.autosave(obs, world.observer.id, {"strengths": "板书清晰，语言生动"}, obs.draft_version)
    trail = db_session.scalars(
        select(ObservationAudit).where(ObservationAudit.observation_id == obs.id)
    ).all()
    assert [(a.field, a.before, a.after) for a in trail] == [("strengths", "板书清晰", "板书清晰，语言生动")]


def test_correction_after_window_is_refused(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    obs.submitted_at = utcnow() - dt.timedelta(days=service.policy.correction_window_days, hours=1)
    db_session.flush()
    with pytest.raises(Conflict, match="correction window"):
        service.correct(obs, world.observer.id, {"suggestions": "late"})
    assert not service.can_edit(obs, world.observer.id)


def test_archived_semester_locks_the_record_O14(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    draft = service.start(world.co_observer.id, world.session_w1.id)
    world.semester.status = "archived"
    db_session.flush()
    for action in (
        lambda: service.correct(obs, world.observer.id, {"suggestions": "x"}),
        lambda: service.autosave(draft, world.co_observer.id, {"narrative": "x"}, 0),
        lambda: service.submit(draft, world.co_observer.id),
        lambda: service.add_member(obs, world.observer.id, "L003"),
        lambda: service.reply(obs, world.teacher.id, "谢谢"),
    ):
        with pytest.raises(Conflict, match="archived"):
            action()


# -- group observation (O-12) -------------------------------------------------------------------------
def test_group_observation_cosign_and_own_record(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.add_member(obs, world.observer.id, "L002")
    service.add_member(obs, world.observer.id, str(world.third_observer.id))
    with pytest.raises(Conflict):
        service.add_member(obs, world.observer.id, "L002")
    with pytest.raises(Conflict):
        service.add_member(obs, world.observer.id, "T001")  # the teacher of the class
    with pytest.raises(NotFound):
        service.add_member(obs, world.observer.id, "NOBODY")
    mine = service.my_records(world.co_observer.id)
    assert [o.id for _, o in mine.invitations] == [obs.id]
    with pytest.raises(Conflict, match="not submitted"):
        service.cosign(obs, world.co_observer.id)
    service.autosave(obs, world.observer.id, complete_fields(service.policy), obs.draft_version)
    service.submit(obs, world.observer.id)
    member = service.cosign(obs, world.co_observer.id)
    assert member.status == MemberStatus.SIGNED and member.session_id == world.session_w1.id

    own = service.write_own(obs, world.third_observer.id)
    assert own.id != obs.id and own.author_id == world.third_observer.id and own.status == "draft"
    assert own.session_id == obs.session_id
    statuses = {
        m.person_id: (m.role, m.status)
        for m in db_session.scalars(
            select(ObservationMember).where(ObservationMember.observation_id == obs.id)
        )
    }
    assert statuses == {
        world.observer.id: ("author", "signed"),
        world.co_observer.id: ("co_observer", "signed"),
        world.third_observer.id: ("co_observer", "own_record"),
    }
    assert service.my_records(world.third_observer.id).drafts == [own]


def test_starting_own_record_answers_an_invitation(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    member = service.add_member(obs, world.observer.id, "L002")
    service.start(world.co_observer.id, world.session_w1.id)
    assert member.status == MemberStatus.OWN_RECORD


def test_non_member_cannot_open_or_cosign(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    with pytest.raises(NotFound):
        service.get_for_observer(world.co_observer.id, obs.id)
    with pytest.raises(NotFound):
        service.cosign(obs, world.co_observer.id)


# -- problems -----------------------------------------------------------------------------------------
def test_problem_is_stored_with_status_new_and_event(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    problem = service.raise_problem(
        obs,
        world.observer.id,
        category="facilities",
        unit_id=str(world.logistics.id),
        room="",
        description="投影仪不亮",
    )
    db_session.expire_all()
    stored = db_session.get(Problem, problem.id)
    assert (stored.category, stored.unit_id, stored.room, stored.status, stored.observation_id) == (
        "facilities",
        world.logistics.id,
        "A101",
        "new",
        obs.id,
    )
    events = db_session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)).all()
    assert [(e.status, e.person_id) for e in events] == [("new", world.observer.id)]


def test_problem_with_bad_category_or_unit_is_refused(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    with pytest.raises(ValidationFailed) as err:
        service.raise_problem(obs, world.observer.id, category="weather", unit_id="999999", description="")
    assert len(err.value.details) == 3
    assert service.problems(obs) == []


def test_discarding_a_draft_removes_its_problems_and_members(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.add_member(obs, world.observer.id, "L002")
    service.raise_problem(
        obs, world.observer.id, category="other", unit_id=world.logistics.id, description="x"
    )
    service.discard(obs, world.observer.id)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Problem)) == 0
    assert db_session.scalar(select(func.count()).select_from(ObservationMember)) == 0
    submitted = _submitted(service, world)
    with pytest.raises(Conflict):
        service.discard(submitted, world.observer.id)


# -- teacher feedback (O-12) --------------------------------------------------------------------------
def test_teacher_never_sees_drafts(service, world):  # type: ignore[no-untyped-def]
    draft = service.start(world.observer.id, world.session_w1.id)
    assert service.teacher_feedback(world.teacher.id) == []
    with pytest.raises(NotFound):
        service.get_for_teacher(world.teacher.id, draft.id)
    service.autosave(draft, world.observer.id, complete_fields(service.policy), 0)
    service.submit(draft, world.observer.id)
    assert service.teacher_feedback(world.teacher.id) == [draft]
    with pytest.raises(NotFound):  # not their class
        service.get_for_teacher(world.co_observer.id, draft.id)


def test_teacher_reply_and_names_per_policy(service, world, db_session):  # type: ignore[no-untyped-def]
    obs = _submitted(service, world)
    service.reply(obs, world.teacher.id, "谢谢指导，下次改进")
    assert obs.teacher_ack_at is not None and obs.teacher_reply_by_id == world.teacher.id
    assert service.my_records(world.observer.id).replies == [obs]
    assert service.observer_names_for_teacher(obs) == ["王校长"]
    text = (
        PolicyStore(db_session, world.institution_id)
        .current()
        .text.replace("teachers_see_observer_names = true", "teachers_see_observer_names = false")
    )
    PolicyStore(db_session, world.institution_id).upload(text, None)
    policy = PolicyStore(db_session, world.institution_id).current()
    hidden = ObservationService(db_session, world.institution_id, policy)
    assert hidden.observer_names_for_teacher(obs) is None
    with pytest.raises(ValidationFailed):
        service.reply(obs, world.teacher.id, "   ")


# -- quality center -----------------------------------------------------------------------------------
def test_search_filters(service, world):  # type: ignore[no-untyped-def]
    submitted = _submitted(service, world)
    draft = service.start(world.co_observer.id, world.session_w3.id)
    assert {o.id for o in service.search(RecordFilter()).items} == {submitted.id, draft.id}
    assert service.search(RecordFilter(status="draft")).items == [draft]
    assert service.search(RecordFilter(observer="王校长")).items == [submitted]
    assert service.search(RecordFilter(teacher="T001")).total == 2
    assert service.search(RecordFilter(course="高等")).total == 2
    assert service.search(RecordFilter(course="英语")).total == 0
    assert service.search(RecordFilter(date_from=dt.date(2026, 9, 8))).items == [draft]
    assert service.search(RecordFilter(unit_id=world.logistics.id)).total == 0
    assert service.search(RecordFilter(semester_id=world.semester.id)).total == 2


def test_observers_per_session(service, world):  # type: ignore[no-untyped-def]
    obs = service.start(world.observer.id, world.session_w1.id)
    service.add_member(obs, world.observer.id, "L002")
    member = service.add_member(obs, world.observer.id, "L003")
    service.decline(obs, world.third_observer.id)
    assert member.status == "declined"
    counts = service.observers_per_session([world.session_w1.id, world.session_w3.id])
    assert counts == {world.session_w1.id: 2}
