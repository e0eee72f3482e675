"""``tingke demo`` (issue 3 §9): the demo college is complete, consistent, idempotent, and launchable.

The command runs exactly as the console script does, against the test database, and builds into the
institution the platform simulator is registered for, so the last test can launch into it as a newcomer
would. Counts are checked against issue 3 §9 (≥ 12 colleges, every position held, ≥ 400 teachers,
≥ 800 sections, ≥ 8 required 思政 courses) and the records against the invariants the observation
service keeps, so a generator that cut corners fails here rather than in a compliance report.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import selectinload

from lti_tool import clock
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.observations.models import (
    COUNTED_MEMBER_STATUSES,
    MemberRole,
    MemberStatus,
    Observation,
    ObservationMember,
    ObservationRating,
)
from lti_tool.patrols.models import Patrol
from lti_tool.policy.schema import default_policy
from lti_tool.problems.models import Photo, Problem, ProblemEvent
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, Course, CourseSection, SectionTeacher, Semester
from tests.support.cli import Run, cli_runner
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return cli_runner(monkeypatch, database_url, tmp_path / "instance")


def _count(s, stmt) -> int:  # type: ignore[no-untyped-def]
    return int(s.scalar(stmt) or 0)


def _totals(s, iid: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    tables = {
        "units": Unit,
        "people": Person,
        "holdings": PositionHolding,
        "courses": Course,
        "sections": CourseSection,
        "sessions": ClassSession,
        "observations": Observation,
        "members": ObservationMember,
        "patrols": Patrol,
        "problems": Problem,
        "photos": Photo,
        "semesters": Semester,
    }
    out = {
        name: _count(s, select(func.count()).select_from(model).where(model.institution_id == iid))
        for name, model in tables.items()
    }
    out["ratings"] = _count(
        s,
        select(func.count())
        .select_from(ObservationRating)
        .join(Observation, Observation.id == ObservationRating.observation_id)
        .where(Observation.institution_id == iid),
    )
    return out


def _semesters(s, iid: int) -> tuple[Semester, Semester]:  # type: ignore[no-untyped-def]
    """(previous, current) by date; today falls in the current one."""
    previous, current = s.scalars(
        select(Semester).where(Semester.institution_id == iid).order_by(Semester.week1_monday)
    ).all()
    return previous, current


def check_roster(s, iid: int) -> None:  # type: ignore[no-untyped-def]
    kinds = dict(
        s.execute(select(Unit.kind, func.count()).where(Unit.institution_id == iid).group_by(Unit.kind)).all()
    )
    assert kinds["college"] >= 12 and kinds["marxism_school"] == 1 and kinds["department"] >= 10
    functions = set(s.scalars(select(Unit.function).where(Unit.institution_id == iid)))
    assert {"quality_center", "organization"} <= functions
    held = set(s.scalars(select(PositionHolding.position_code).where(PositionHolding.institution_id == iid)))
    assert set(default_policy().positions) <= held, set(default_policy().positions) - held
    marxism_tenures = s.scalars(
        select(PositionHolding).where(
            PositionHolding.institution_id == iid, PositionHolding.position_code == "marxism_school_leader"
        )
    ).all()
    assert 3 <= len(marxism_tenures) <= 4 and all(t.start_date for t in marxism_tenures)
    people = s.scalars(select(Person).where(Person.institution_id == iid)).all()
    assert all(re.fullmatch(r"\d{6}", p.employee_no) and p.email and "@" in p.email for p in people)
    assert len({p.email for p in people}) == len(people)
    # Quality-center and organization staff exist besides their heads (the staff personas).
    for function in ("quality_center", "organization"):
        staff = _count(
            s,
            select(func.count())
            .select_from(Person)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.institution_id == iid, Unit.function == function),
        )
        assert staff >= 2


def check_timetable(s, iid: int, policy_kinds: frozenset[str]) -> None:  # type: ignore[no-untyped-def]
    previous, current = _semesters(s, iid)
    today = clock.today()
    assert current.start_date <= today <= current.end_date
    assert previous.end_date < current.start_date and current.weeks == 16
    for semester in (previous, current):
        sections = _count(
            s, select(func.count()).select_from(CourseSection).where(CourseSection.semester_id == semester.id)
        )
        assert sections >= 800
        teachers = _count(
            s,
            select(func.count(distinct(SectionTeacher.person_id)))
            .join(CourseSection, CourseSection.id == SectionTeacher.section_id)
            .where(CourseSection.semester_id == semester.id),
        )
        assert teachers >= 400
        ideological = s.execute(
            select(Course.code, Unit.kind)
            .join(CourseSection, CourseSection.course_id == Course.id)
            .join(Unit, Unit.id == Course.offering_unit_id)
            .where(CourseSection.semester_id == semester.id, Course.kind.in_(sorted(policy_kinds)))
            .distinct()
        ).all()
        assert len({code for code, _ in ideological}) >= 8
        assert {kind for _, kind in ideological} == {"marxism_school"}
        part_time = _count(
            s,
            select(func.count())
            .select_from(CourseSection)
            .where(CourseSection.semester_id == semester.id, CourseSection.full_time.is_(False)),
        )
        assert 1 <= part_time <= 20
        # Sessions were expanded: every section meets, inside the semester, never on a holiday.
        sessions = s.execute(
            select(ClassSession.date, ClassSession.starts_at).where(ClassSession.semester_id == semester.id)
        ).all()
        assert len(sessions) >= sections * 4
        assert all(semester.start_date <= d <= semester.end_date and t is not None for d, t in sessions)
        assert not {d.isoformat() for d, _ in sessions} & set(semester.holidays)
        without = _count(
            s,
            select(func.count())
            .select_from(CourseSection)
            .where(
                CourseSection.semester_id == semester.id,
                ~select(ClassSession.id).where(ClassSession.section_id == CourseSection.id).exists(),
            ),
        )
        assert without == 0
    assert previous.status == "archived" and current.status == "open"


def check_records(s, iid: int) -> None:  # type: ignore[no-untyped-def]
    previous, current = _semesters(s, iid)
    now = clock.utcnow()
    section_teachers: dict[int, set[int]] = {}
    for section_id, person_id in s.execute(
        select(SectionTeacher.section_id, SectionTeacher.person_id)
        .join(CourseSection, CourseSection.id == SectionTeacher.section_id)
        .where(CourseSection.institution_id == iid)
    ):
        section_teachers.setdefault(section_id, set()).add(person_id)
    for semester in (previous, current):
        rows = s.execute(
            select(Observation, ClassSession, CourseSection.full_time)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .where(Observation.semester_id == semester.id)
            .options(selectinload(Observation.members), selectinload(Observation.ratings))
        ).all()
        submitted = [o for o, _, _ in rows if o.status == "submitted"]
        assert len(submitted) >= 60
        for obs, session, full_time in rows:
            assert full_time and obs.semester_id == session.semester_id  # O-10, the session's semester
            assert obs.institution_id == iid and obs.created_at <= obs.updated_at <= now
            teachers = section_teachers[session.section_id]
            assert obs.author_id not in teachers
            assert all(m.session_id == obs.session_id for m in obs.members)
            assert all(m.person_id not in teachers for m in obs.members)
            if obs.status == "submitted":
                assert obs.submitted_at is not None and obs.submitted_at <= now
                author = [m for m in obs.members if m.role == MemberRole.AUTHOR]
                assert len(author) == 1 and author[0].person_id == obs.author_id
                assert author[0].status == MemberStatus.SIGNED and author[0].signed_at is not None
                assert {r.dimension for r in obs.ratings} == {d.code for d in default_policy().dimensions}
                assert obs.narrative and obs.expected_count and obs.arrival_time
                assert obs.arrived_late == (obs.arrival_time > session.starts_at)
            else:
                assert obs.submitted_at is None and not [m for m in obs.members if m.status == "signed"]
            if obs.teacher_reply:
                assert obs.teacher_reply_by_id in teachers and obs.teacher_ack_at is not None
        group = _count(
            s,
            select(func.count(distinct(ObservationMember.observation_id)))
            .join(Observation, Observation.id == ObservationMember.observation_id)
            .where(
                Observation.semester_id == semester.id,
                Observation.status == "submitted",
                ObservationMember.role == MemberRole.CO_OBSERVER,
                ObservationMember.status == MemberStatus.SIGNED,
            ),
        )
        assert group >= 3
        replies = [o for o, _, _ in rows if o.teacher_reply]
        assert len(replies) >= 5
        patrols = _count(
            s,
            select(func.count())
            .select_from(Patrol)
            .where(
                Patrol.institution_id == iid,
                Patrol.date >= semester.start_date,
                Patrol.date <= min(semester.end_date, clock.today()),
            ),
        )
        assert patrols >= 5
    drafts = _count(
        s,
        select(func.count())
        .select_from(Observation)
        .where(Observation.semester_id == current.id, Observation.status == "draft"),
    )
    assert drafts >= 1
    # Problems: routed to a department, each with its handling history; some resolved, some still open.
    problems = s.scalars(select(Problem).where(Problem.institution_id == iid)).all()
    assert len(problems) >= 10
    assert {p.status for p in problems} & {"resolved", "confirmed"} and {p.status for p in problems} & {
        "new",
        "accepted",
    }
    assert any(p.patrol_id for p in problems) and any(p.observation_id for p in problems)
    events: dict[int, list[str]] = {}
    for problem_id, status in s.execute(
        select(ProblemEvent.problem_id, ProblemEvent.status)
        .join(Problem, Problem.id == ProblemEvent.problem_id)
        .where(Problem.institution_id == iid)
        .order_by(ProblemEvent.at, ProblemEvent.id)
    ):
        events.setdefault(problem_id, []).append(status)
    for p in problems:
        assert events[p.id][0] == "new" and events[p.id][-1] == p.status
    # A realistic mix for O-4 (deans, ≥ 5 a semester) in the finished semester: some met it, some did not.
    counted = dict(
        s.execute(
            select(ObservationMember.person_id, func.count(distinct(ObservationMember.session_id)))
            .join(Observation, Observation.id == ObservationMember.observation_id)
            .join(PositionHolding, PositionHolding.person_id == ObservationMember.person_id)
            .where(
                Observation.semester_id == previous.id,
                Observation.status == "submitted",
                ObservationMember.status.in_(COUNTED_MEMBER_STATUSES),
                PositionHolding.position_code == "college_dean",
            )
            .group_by(ObservationMember.person_id)
        ).all()
    )
    assert any(n >= 5 for n in counted.values()) and any(n < 5 for n in counted.values())


def check_contacts(session_factory, iid: int, client, launcher, people, by_role) -> None:  # type: ignore[no-untyped-def]
    """Issue 9 §8: a year of contact points and a semester of records, some branch activities unconfirmed;
    the leader, the school office and a branch secretary each see data on their new pages."""
    from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord

    with session_factory() as s:
        kinds = set(s.scalars(select(ContactPoint.kind).where(ContactPoint.institution_id == iid).distinct()))
        assert {"college", "teaching_office", "student_class", "party_branch"} <= kinds
        records = list(s.scalars(select(ContactRecord).where(ContactRecord.institution_id == iid)))
        assert len(records) >= 50 and all(r.status == "submitted" and r.content for r in records)
        branch = [r for r in records if r.kind == "branch_activity"]
        assert any(not r.branch_confirmed for r in branch) and any(r.branch_confirmed for r in branch)
        assert all(r.unit is not None and r.unit.kind == "party_branch" for r in branch)
        groups = s.scalar(
            select(func.count())
            .select_from(ContactMember)
            .where(ContactMember.institution_id == iid, ContactMember.role == "member")
        )
        assert groups and groups > 0
        for no in (by_role["school leader"], by_role["school office"], by_role["party branch secretary"]):
            people.setdefault(
                no,
                s.scalars(select(Person).where(Person.institution_id == iid, Person.employee_no == no)).one(),
            )
    leader = people[by_role["school leader"]]
    session = launcher.launch(
        LmsUser("demo-leader", leader.name, leader.email, leader.employee_no, [ROLE_LEARNER])
    )
    assert "调研" in session.get(client, "/contacts/").get_data(as_text=True)
    office = people[by_role["school office"]]
    session = launcher.launch(
        LmsUser("demo-office", office.name, office.email, office.employee_no, [ROLE_LEARNER])
    )
    assert "党支部" in session.get(client, "/contacts/office/points").get_data(as_text=True)
    assert "凭纸质记录确认" in session.get(client, "/contacts/office/branch").get_data(as_text=True)
    sec = people[by_role["party branch secretary"]]
    session = launcher.launch(LmsUser("demo-sec", sec.name, sec.email, sec.employee_no, [ROLE_LEARNER]))
    assert "确认参加" in session.get(client, "/contacts/branch").get_data(as_text=True)


def check_photo(session_factory, iid: int, client, launcher, output: str) -> None:  # type: ignore[no-untyped-def]
    """One open projector problem carries the demo's photo (issue 15 §4); the output names somebody of its
    unit, whose problem page shows it."""
    with session_factory() as s:
        photo = s.scalars(select(Photo).where(Photo.institution_id == iid)).one()
        problem = s.get(Problem, photo.problem_id)
        assert problem is not None and "投影仪" in problem.description
        assert photo.stage == "raised" and photo.uploaded_by_id == problem.raised_by_id
        handler = s.scalars(
            select(Person).where(Person.institution_id == iid, Person.unit_id == problem.unit_id)
        ).first()
        assert handler is not None
    assert f"problem #{problem.id}" in output and handler.employee_no in output
    as_handler = launcher.launch(
        LmsUser("demo-asset", handler.name, handler.email, handler.employee_no, [ROLE_INSTRUCTOR])
    )
    page = as_handler.get(client, f"/problems/{problem.id}")
    assert page.status_code == 200 and f"/problems/photos/{photo.id}/thumbnail" in page.get_data(as_text=True)
    served = as_handler.get(client, f"/problems/photos/{photo.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"


def test_demo_builds_a_living_college_idempotently(
    run,
    session_factory,
    platform,
    client,  # type: ignore[no-untyped-def]
    launcher,
    tmp_path: Path,
):
    result = run("demo", "--institution", "JTI")
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        iid = s.scalars(select(Institution.id).where(Institution.code == "JTI")).one()
        check_roster(s, iid)
        check_timetable(s, iid, default_policy().ideological_course_kinds)
        check_records(s, iid)
        first = _totals(s, iid)

    # The generated files are the real import formats and land in the instance folder.
    demo_dir = tmp_path / "instance" / "demo"
    headers = {
        name: (demo_dir / name).read_text(encoding="utf-8-sig").splitlines()[0]
        for name in ("units.csv", "people.csv", "periods.csv", "timetable.csv")
    }
    assert headers["timetable.csv"].startswith("学期,课程代码,课程名称,课程类别")
    assert headers["people.csv"].startswith("工号,姓名,邮箱")

    # A second run re-imports everything and duplicates nothing; records are kept, not regenerated.
    again = run("demo", "--institution", "JTI")
    assert again.exit_code == 0, again.output
    assert "kept" in again.output
    with session_factory() as s:
        assert _totals(s, iid) == first

    # The output names people to try; launching as them shows the living system.
    numbers = dict(re.findall(r"^\s+(\d{6})\s+\S+\s+\S+\s+(.+)$", result.output, re.M))
    by_role = {role.split(" (")[0]: no for no, role in numbers.items()}
    assert {"school leader", "college dean", "teacher", "quality-center staff", "school office"} <= set(
        by_role
    )
    with session_factory() as s:
        people = {
            p.employee_no: p
            for p in s.scalars(
                select(Person).where(Person.institution_id == iid, Person.employee_no.in_(list(numbers)))
            )
        }
    dean = people[by_role["college dean"]]
    page = launcher.launch(LmsUser("demo-dean", dean.name, dean.email, dean.employee_no, [ROLE_LEARNER])).get(
        client, "/home"
    )
    assert page.status_code == 200 and "O-4" in page.get_data(as_text=True)
    check_contacts(session_factory, iid, client, launcher, people, by_role)
    check_photo(session_factory, iid, client, launcher, result.output)
    qc = people[by_role["quality-center staff"]]
    page = launcher.launch(LmsUser("demo-qc", qc.name, qc.email, qc.employee_no, [ROLE_INSTRUCTOR])).get(
        client, "/home"
    )
    assert page.status_code == 200 and "教学质量监控与评价中心" in page.get_data(as_text=True)

    # --reset deletes the records and generates them again; the roster and timetable stay as they are.
    reset = run("demo", "--institution", "JTI", "--reset")
    assert reset.exit_code == 0, reset.output
    with session_factory() as s:
        after = _totals(s, iid)
        check_records(s, iid)
    for name in ("units", "people", "holdings", "courses", "sections", "sessions", "semesters"):
        assert after[name] == first[name], name
