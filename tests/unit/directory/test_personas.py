"""Personas come from the roster and the policy, never from LTI custom parameters (issue 2 §6).

observer: holds, on the day, a position with an observing or patrol duty (positions have start/end
dates, docs/policy-rules.md, the positions); teacher: teaches a timetabled section or is an Instructor
in the launching course; quality_center / organization: works in the unit with that function; handler:
works in a functional department; a platform administrator gets the quality-center pages.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.directory.personas import Persona, personas_for
from lti_tool.policy.schema import Policy, default_policy
from lti_tool.timetable.models import Course, CourseSection, SectionTeacher, Semester

D = dt.date
TODAY = D(2026, 3, 2)


@pytest.fixture
def policy() -> Policy:
    return default_policy()


def make_person(
    session: Session,
    institution_id: int,
    no: str = "1001",
    unit: Unit | None = None,
    positions: list[tuple[str, dt.date | None, dt.date | None]] | None = None,
) -> Person:
    person = Person(institution_id=institution_id, employee_no=no, name=f"P{no}", unit=unit)
    for code, start, end in positions or []:
        person.positions.append(
            PositionHolding(institution_id=institution_id, position_code=code, start_date=start, end_date=end)
        )
    session.add(person)
    session.flush()
    return person


def make_unit(session: Session, institution_id: int, code: str, kind: str, function: str = "") -> Unit:
    unit = Unit(institution_id=institution_id, code=code, name=code, kind=kind, function=function)
    session.add(unit)
    session.flush()
    return unit


def personas(
    session: Session,
    person: Person | None,
    policy: Policy,
    today: dt.date = TODAY,
    *,
    instructor: bool = False,
    admin: bool = False,
) -> list[Persona]:
    return personas_for(
        session, person, policy, is_instructor=instructor, is_platform_admin=admin, today=today
    )


@pytest.mark.parametrize(
    ("today", "observer"),
    [
        (D(2024, 8, 31), False),  # the day before the tenure starts
        (D(2024, 9, 1), True),  # first day
        (D(2025, 8, 31), True),  # last day
        (D(2025, 9, 1), False),  # the day after it ended
    ],
)
def test_observer_only_while_the_position_is_held(
    db_session, institution_id, policy, today, observer
) -> None:
    tenure = ("college_dean", D(2024, 9, 1), D(2025, 8, 31))
    person = make_person(db_session, institution_id, positions=[tenure])
    assert (Persona.OBSERVER in personas(db_session, person, policy, today)) is observer


def test_observer_with_open_tenure_and_with_one_of_several_positions(
    db_session, institution_id, policy
) -> None:
    open_ended = make_person(db_session, institution_id, "1", positions=[("school_leader", None, None)])
    assert personas(db_session, open_ended, policy) == [Persona.OBSERVER]
    # an ended position and a current one: the current one decides
    several = make_person(
        db_session,
        institution_id,
        "2",
        positions=[("college_dean", D(2020, 9, 1), D(2023, 8, 31)), ("head_hr", D(2023, 9, 1), None)],
    )
    assert personas(db_session, several, policy, D(2026, 1, 5)) == [Persona.OBSERVER]
    assert personas(db_session, several, policy, D(2023, 1, 5)) == [Persona.OBSERVER]
    assert personas(db_session, several, policy, D(2019, 1, 5)) == []


def test_a_position_without_duties_in_the_policy_makes_no_observer(
    db_session, institution_id, policy
) -> None:
    person = make_person(db_session, institution_id, positions=[("secretary_general", None, None)])
    assert "secretary_general" not in policy.observing_positions()
    assert personas(db_session, person, policy) == []


def test_patrol_positions_are_observers_too(db_session, institution_id, policy) -> None:
    person = make_person(db_session, institution_id, positions=[("head_logistics", D(2025, 1, 1), None)])
    assert "head_logistics" in policy.patrol_positions()
    assert personas(db_session, person, policy) == [Persona.OBSERVER]


def test_teacher_from_a_timetabled_section(db_session, institution_id, policy) -> None:
    teacher = make_person(db_session, institution_id, "3001")
    other = make_person(db_session, institution_id, "3002")
    semester = Semester(institution_id=institution_id, code="2025-2026-2", week1_monday=TODAY, weeks=18)
    course = Course(institution_id=institution_id, code="C1", name="高等数学")
    db_session.add_all([semester, course])
    db_session.flush()
    section = CourseSection(
        institution_id=institution_id,
        semester_id=semester.id,
        course_id=course.id,
        natural_key="C1|1|1|1-2|1-18",
        weekday=1,
        period_start=1,
        period_end=2,
        weeks_spec="1-18",
    )
    db_session.add(section)
    db_session.flush()
    db_session.add(SectionTeacher(section_id=section.id, person_id=teacher.id))
    db_session.flush()
    assert personas(db_session, teacher, policy) == [Persona.TEACHER]
    assert personas(db_session, other, policy) == []


def test_teacher_from_the_instructor_role_but_only_with_a_roster_identity(
    db_session, institution_id, policy
) -> None:
    person = make_person(db_session, institution_id)
    assert personas(db_session, person, policy, instructor=True) == [Persona.TEACHER]
    assert personas(db_session, person, policy, instructor=False) == []
    # an unmatched Instructor sees the "not linked yet" page, not a teacher's records
    assert personas(db_session, None, policy, instructor=True) == []


@pytest.mark.parametrize(
    ("kind", "function", "expected"),
    [
        ("department", "quality_center", [Persona.QUALITY_CENTER, Persona.HANDLER]),
        ("department", "organization", [Persona.ORGANIZATION, Persona.HANDLER]),
        ("department", "school_office", [Persona.SCHOOL_OFFICE, Persona.HANDLER]),
        ("department", "", [Persona.HANDLER]),
        ("college", "", []),
        ("marxism_school", "", []),
    ],
)
def test_staff_personas_from_the_unit(db_session, institution_id, policy, kind, function, expected) -> None:
    unit = make_unit(db_session, institution_id, "U", kind, function)
    person = make_person(db_session, institution_id, unit=unit)
    assert personas(db_session, person, policy) == expected


def test_personas_combine_in_a_fixed_order(db_session, institution_id, policy) -> None:
    qc = make_unit(db_session, institution_id, "QC", "department", "quality_center")
    head = make_person(
        db_session, institution_id, unit=qc, positions=[("head_quality_center", D(2022, 7, 1), None)]
    )
    assert personas(db_session, head, policy, instructor=True) == [
        Persona.QUALITY_CENTER,
        Persona.OBSERVER,
        Persona.HANDLER,
        Persona.TEACHER,
    ]


def test_platform_admin_gets_the_quality_center_pages(db_session, institution_id, policy) -> None:
    assert personas(db_session, None, policy, admin=True) == [Persona.QUALITY_CENTER]
    college = make_unit(db_session, institution_id, "TR", "college")
    person = make_person(db_session, institution_id, unit=college)
    assert personas(db_session, person, policy, admin=True, instructor=True) == [
        Persona.QUALITY_CENTER,
        Persona.TEACHER,
    ]


def test_platform_admin_sets_up_only_until_the_quality_center_has_staff(
    db_session, institution_id, policy
) -> None:
    """Issue 11 §9: once somebody works in the quality center, an administrator is who the roster says."""
    qc = make_unit(db_session, institution_id, "QC", "department")
    qc.function = "quality_center"
    make_person(db_session, institution_id, "9001", unit=qc)
    db_session.flush()
    assert (
        personas_for(
            db_session,
            None,
            policy,
            is_instructor=False,
            is_platform_admin=True,
            today=TODAY,
            institution_id=institution_id,
        )
        == []
    )
    college = make_unit(db_session, institution_id, "TR", "college")
    teacher = make_person(db_session, institution_id, unit=college)
    assert personas(db_session, teacher, policy, admin=True, instructor=True) == [Persona.TEACHER]


def test_branch_secretary_from_the_policys_contact_positions(db_session, institution_id, policy) -> None:
    """The policy's ``[contact] branch_secretary_positions`` make a branch secretary (C-3c), while held."""
    assert "branch_secretary" in policy.contact.branch_secretary_positions
    tenure = ("branch_secretary", D(2025, 9, 1), D(2026, 2, 28))
    secretary = make_person(db_session, institution_id, positions=[tenure])
    assert personas(db_session, secretary, policy, D(2025, 9, 1)) == [Persona.BRANCH_SECRETARY]
    assert personas(db_session, secretary, policy, D(2026, 3, 1)) == []
