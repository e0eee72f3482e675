"""A small college for the observation tests (no tests here): people, a semester and a timetable.

Semester 2026-2027-1 starts on Monday 2026-09-07 (week 1) with 18 weeks and the National Day holiday
2026-10-01..07. 高等数学 (MATH1) is taught by 李老师 (T001) on Mondays, periods 3-4 (10:00-11:40), in odd
weeks only (``1-17单``), so sessions exist on 2026-09-07 (week 1) and 2026-09-21 (week 3) but not on
2026-09-14 (week 2) nor on the holiday Monday 2026-10-05 (week 5). 成人英语 (ADULT1) is a part-time
course (O-10).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.timetable.models import ClassSession, Course, CourseSection, Semester

MONDAY_W1 = dt.date(2026, 9, 7)
MONDAY_W2 = dt.date(2026, 9, 14)
MONDAY_W3 = dt.date(2026, 9, 21)
HOLIDAY_MONDAY = dt.date(2026, 10, 5)
WEEKS = 18


@dataclass
class World:
    institution_id: int
    semester: Semester
    observer: Person
    co_observer: Person
    third_observer: Person
    teacher: Person
    qc: Person
    logistics: Unit
    college: Unit
    math: Course
    adult: Course
    section: CourseSection
    session_w1: ClassSession
    session_w3: ClassSession
    adult_session: ClassSession
    people: dict[str, Person] = field(default_factory=dict)


def _person(s: Session, inst: int, no: str, name: str, unit: Unit | None, *positions: str) -> Person:
    p = Person(
        institution_id=inst,
        employee_no=no,
        name=name,
        email=f"{no.lower()}@jti.edu",
        unit_id=unit.id if unit else None,
    )
    for code in positions:
        p.positions.append(PositionHolding(institution_id=inst, position_code=code))
    s.add(p)
    s.flush()
    return p


def _sessions(
    s: Session,
    section: CourseSection,
    sem: Semester,
    weeks: list[int],
    holidays: set[dt.date],
    start: dt.time,
    end: dt.time,
) -> list[ClassSession]:
    out = []
    for week in weeks:
        day = sem.week1_monday + dt.timedelta(days=7 * (week - 1) + section.weekday - 1)
        if day in holidays:
            continue
        row = ClassSession(
            institution_id=section.institution_id,
            semester_id=sem.id,
            section_id=section.id,
            date=day,
            week=week,
            period_start=section.period_start,
            period_end=section.period_end,
            starts_at=start,
            ends_at=end,
            room=section.room,
        )
        s.add(row)
        out.append(row)
    s.flush()
    return out


def build_world(s: Session, inst: int) -> World:
    college = Unit(institution_id=inst, code="JD", name="机电工程学院", kind="college")
    qc_unit = Unit(
        institution_id=inst,
        code="QC",
        name="教学质量监控与评价中心",
        kind="department",
        function="quality_center",
    )
    logistics = Unit(institution_id=inst, code="HQ", name="后勤管理处", kind="department")
    s.add_all([college, qc_unit, logistics])
    s.flush()
    observer = _person(s, inst, "L001", "王校长", None, "school_leader")
    co_observer = _person(s, inst, "L002", "赵院长", college, "college_dean")
    third = _person(s, inst, "L003", "钱书记", college, "college_party_head")
    teacher = _person(s, inst, "T001", "李老师", college)
    qc = _person(s, inst, "Q001", "孙主任", qc_unit)
    holidays = {HOLIDAY_MONDAY - dt.timedelta(days=4) + dt.timedelta(days=i) for i in range(7)}
    sem = Semester(
        institution_id=inst,
        code="2026-2027-1",
        week1_monday=MONDAY_W1,
        weeks=WEEKS,
        holidays=sorted(d.isoformat() for d in holidays),
    )
    s.add(sem)
    s.flush()
    math = Course(
        institution_id=inst, code="MATH1", name="高等数学", kind="公共基础", offering_unit_id=college.id
    )
    adult = Course(
        institution_id=inst, code="ADULT1", name="成人英语", kind="公共基础", offering_unit_id=college.id
    )
    s.add_all([math, adult])
    s.flush()
    section = CourseSection(
        institution_id=inst,
        semester_id=sem.id,
        course_id=math.id,
        natural_key="MATH1|机电2401|1|3-4|1-17单",
        classes="机电2401",
        weekday=1,
        period_start=3,
        period_end=4,
        weeks_spec="1-17单",
        room="A101",
        full_time=True,
    )
    section.teachers = [teacher]
    adult_section = CourseSection(
        institution_id=inst,
        semester_id=sem.id,
        course_id=adult.id,
        natural_key="ADULT1|成教2401|2|1-2|1-18",
        classes="成教2401",
        weekday=2,
        period_start=1,
        period_end=2,
        weeks_spec="1-18",
        room="B201",
        full_time=False,
    )
    adult_section.teachers = [teacher]
    s.add_all([section, adult_section])
    s.flush()
    odd_weeks = list(range(1, 18, 2))
    math_sessions = _sessions(s, section, sem, odd_weeks, holidays, dt.time(10, 0), dt.time(11, 40))
    adult_sessions = _sessions(s, adult_section, sem, [1], holidays, dt.time(8, 0), dt.time(9, 40))
    by_date = {c.date: c for c in math_sessions}
    world = World(
        inst,
        sem,
        observer,
        co_observer,
        third,
        teacher,
        qc,
        logistics,
        college,
        math,
        adult,
        section,
        by_date[MONDAY_W1],
        by_date[MONDAY_W3],
        adult_sessions[0],
    )
    world.people = {p.employee_no: p for p in (observer, co_observer, third, teacher, qc)}
    return world


def complete_fields(policy, **overrides: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every field a submission needs, filled in plausibly (as the form would send them)."""
    fields: dict[str, object] = {f"rating__{d.code}": policy.scale[0].code for d in policy.dimensions}
    fields.update(
        {
            "narrative": "教师先复习上节内容，随后讲解导数的定义并组织小组练习。",
            "strengths": "板书清晰",
            "problems_text": "个别学生看手机",
            "suggestions": "增加课堂提问",
            "arrival_time": "09:55",
            "expected_count": "42",
            "present_count": "40",
            "exchange_teacher_done": "yes",
            "exchange_teacher_text": "交流了练习设计",
            "exchange_students_done": "no",
            "is_supervision": False,
        }
    )
    fields.update(overrides)
    return fields
