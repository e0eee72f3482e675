"""Small row factories for tests: plain model rows with sensible defaults, flushed so ids exist.

Each function takes the session first and returns the row. Only what a test states matters; the rest
gets a default (unique codes come from a counter). Any engineer's tests may use these.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.observations.models import (
    MemberRole,
    MemberStatus,
    Observation,
    ObservationMember,
    ObservationStatus,
)
from lti_tool.patrols.models import Patrol
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, Course, CourseSection, Semester

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def institution(
    s: Session, code: str | None = None, name: str = "测试学院", *, policy: bool = True
) -> Institution:
    inst = Institution(code=code or f"I{_n()}", name=name)
    s.add(inst)
    s.flush()
    if policy:
        PolicyStore(s, inst.id).ensure_version()
    return inst


def unit(
    s: Session,
    inst: Institution | int,
    name: str = "",
    *,
    kind: str = "college",
    code: str | None = None,
    function: str = "",
) -> Unit:
    n = _n()
    row = Unit(
        institution_id=_id(inst), code=code or f"U{n}", name=name or f"单位{n}", kind=kind, function=function
    )
    s.add(row)
    s.flush()
    return row


def person(
    s: Session,
    inst: Institution | int,
    name: str = "",
    *,
    employee_no: str | None = None,
    unit: Unit | None = None,
    email: str | None = None,
    positions: Iterable[str | tuple[str, dt.date | None, dt.date | None]] = (),
) -> Person:
    """A roster person; ``positions`` are codes (held with open dates) or ``(code, start, end)``."""
    n = _n()
    row = Person(
        institution_id=_id(inst),
        employee_no=employee_no or f"E{n:05d}",
        name=name or f"人员{n}",
        email=email,
        unit_id=unit.id if unit else None,
    )
    s.add(row)
    s.flush()
    for p in positions:
        code, start, end = (p, None, None) if isinstance(p, str) else p
        hold(s, row, code, start, end)
    return row


def hold(
    s: Session, who: Person, code: str, start: dt.date | None = None, end: dt.date | None = None
) -> PositionHolding:
    row = PositionHolding(
        institution_id=who.institution_id,
        person_id=who.id,
        position_code=code,
        start_date=start,
        end_date=end,
    )
    s.add(row)
    s.flush()
    return row


def semester(
    s: Session,
    inst: Institution | int,
    code: str = "2026-2027-1",
    *,
    week1_monday: dt.date = dt.date(2026, 9, 7),
    weeks: int = 18,
    holidays: Iterable[dt.date] = (),
) -> Semester:
    row = Semester(
        institution_id=_id(inst),
        code=code,
        week1_monday=week1_monday,
        weeks=weeks,
        holidays=sorted(d.isoformat() for d in holidays),
    )
    s.add(row)
    s.flush()
    return row


def course(
    s: Session,
    inst: Institution | int,
    name: str = "",
    *,
    code: str | None = None,
    kind: str = "",
    offering_unit: Unit | None = None,
) -> Course:
    n = _n()
    row = Course(
        institution_id=_id(inst),
        code=code or f"C{n:04d}",
        name=name or f"课程{n}",
        kind=kind,
        offering_unit_id=offering_unit.id if offering_unit else None,
    )
    s.add(row)
    s.flush()
    return row


def section(
    s: Session,
    sem: Semester,
    crs: Course,
    teachers: Sequence[Person] = (),
    *,
    student_unit: Unit | None = None,
    classes: str = "",
    weekday: int = 1,
    periods: tuple[int, int] = (1, 2),
    weeks_spec: str = "1-18",
    room: str = "",
    full_time: bool = True,
    natural_key: str | None = None,
) -> CourseSection:
    n = _n()
    row = CourseSection(
        institution_id=sem.institution_id,
        semester_id=sem.id,
        course_id=crs.id,
        natural_key=natural_key or f"{crs.code}|{classes or n}|{weekday}|{periods[0]}-{periods[1]}|{n}",
        classes=classes or f"班级{n}",
        student_unit_id=student_unit.id if student_unit else None,
        weekday=weekday,
        period_start=periods[0],
        period_end=periods[1],
        weeks_spec=weeks_spec,
        room=room,
        full_time=full_time,
    )
    row.teachers = list(teachers)
    s.add(row)
    s.flush()
    return row


def class_session(
    s: Session,
    sec: CourseSection,
    date: dt.date,
    *,
    sem: Semester | None = None,
    period_start: int | None = None,
    times: tuple[dt.time, dt.time] = (dt.time(8, 0), dt.time(9, 40)),
) -> ClassSession:
    """A meeting of ``sec`` on ``date``; ``sem`` defaults to the section's semester (the date decides
    counting, so a test may put a date outside it on purpose)."""
    sem = sem or s.get(Semester, sec.semester_id)
    assert sem is not None
    start = period_start if period_start is not None else sec.period_start
    row = ClassSession(
        institution_id=sec.institution_id,
        semester_id=sem.id,
        section_id=sec.id,
        date=date,
        week=max(1, sem.week_of(date)),
        period_start=start,
        period_end=start + 1,
        starts_at=times[0],
        ends_at=times[1],
        room=sec.room,
    )
    s.add(row)
    s.flush()
    return row


def observation(
    s: Session,
    sess: ClassSession,
    author: Person,
    *,
    members: Iterable[tuple[Person, str]] = (),
    status: str = ObservationStatus.SUBMITTED,
    supervision: bool = False,
    author_status: str | None = None,
) -> Observation:
    """A record of ``sess`` by ``author`` (member status ``signed`` when submitted, else ``invited``);
    ``members`` adds co-observers with the given membership status (``signed``, ``invited`` …)."""
    row = Observation(
        institution_id=sess.institution_id,
        session_id=sess.id,
        semester_id=sess.semester_id,
        author_id=author.id,
        status=status,
        is_supervision=supervision,
        submitted_at=clock.utcnow() if status == ObservationStatus.SUBMITTED else None,
    )
    s.add(row)
    s.flush()
    own = author_status or (
        MemberStatus.SIGNED if status == ObservationStatus.SUBMITTED else MemberStatus.INVITED
    )
    s.add(
        ObservationMember(
            institution_id=row.institution_id,
            observation_id=row.id,
            person_id=author.id,
            session_id=sess.id,
            role=MemberRole.AUTHOR,
            status=own,
        )
    )
    for who, member_status in members:
        s.add(
            ObservationMember(
                institution_id=row.institution_id,
                observation_id=row.id,
                person_id=who.id,
                session_id=sess.id,
                role=MemberRole.CO_OBSERVER,
                status=member_status,
            )
        )
    s.flush()
    return row


def patrol(s: Session, who: Person, date: dt.date, *, rooms: str = "A101") -> Patrol:
    row = Patrol(institution_id=who.institution_id, person_id=who.id, date=date, rooms=rooms, checked=[])
    s.add(row)
    s.flush()
    return row


def _id(inst: Institution | int) -> int:
    return inst if isinstance(inst, int) else inst.id
