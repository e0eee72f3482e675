"""Which personas a person has, decided from the roster and the policy, never from LTI custom params.

- observer: holds, today, a position the policy gives an observing or patrol duty;
- teacher: teaches a timetabled section, or is an Instructor in the launching LMS course;
- quality_center / organization / school_office: works in the unit with that function;
- branch_secretary: holds, today, a position the policy's ``[contact] branch_secretary_positions`` lists
  (the secretary of their own party branch confirms contact leaders' attendance, C-3c);
- handler: works in a functional department, which problems may be routed to;
- admin: the LMS says the launcher administers the platform (a signed claim, not a custom parameter). While
  the institution has nobody in its quality center (a fresh install) that gives the quality-center pages so
  it can be set up; once the roster has quality-center staff, an administrator has only what their own
  roster entry gives (issue 11 §9).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from enum import StrEnum

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding, Unit, UnitFunction, UnitKind
from lti_tool.policy.schema import Policy
from lti_tool.timetable.models import SectionTeacher


class Persona(StrEnum):
    QUALITY_CENTER = "quality_center"
    ORGANIZATION = "organization"
    SCHOOL_OFFICE = "school_office"
    OBSERVER = "observer"
    HANDLER = "handler"
    BRANCH_SECRETARY = "branch_secretary"
    TEACHER = "teacher"


PERSONA_ORDER = [
    Persona.QUALITY_CENTER,
    Persona.ORGANIZATION,
    Persona.SCHOOL_OFFICE,
    Persona.OBSERVER,
    Persona.HANDLER,
    Persona.BRANCH_SECRETARY,
    Persona.TEACHER,
]


_HOLDINGS = PositionHolding.__table__
_POSITIONS_OF = select(_HOLDINGS.c.position_code, _HOLDINGS.c.start_date, _HOLDINGS.c.end_date).where(
    _HOLDINGS.c.person_id == bindparam("person_id")
)
_TEACHES = select(exists().where(SectionTeacher.person_id == bindparam("person_id")))
_QC_STAFFED = select(
    exists().where(
        Person.institution_id == bindparam("institution_id"),
        Person.unit_id == Unit.id,
        Unit.function == UnitFunction.QUALITY_CENTER,
    )
)


def quality_center_staffed(session: Session, institution_id: int) -> bool:
    """Whether anybody in the roster works in the quality center (then it, not the LMS admin, sets up)."""
    return bool(session.scalar(_QC_STAFFED, {"institution_id": institution_id}))


def active_positions(session: Session, person_id: int, on: dt.date) -> set[str]:
    """The positions a person holds on a day (a Core select: no ORM objects are needed to read three
    columns, and every launch asks)."""
    return {
        code
        for code, start, end in session.execute(_POSITIONS_OF, {"person_id": person_id})
        if (start is None or start <= on) and (end is None or end >= on)
    }


def personas_for(
    session: Session,
    person: Person | None,
    policy: Policy,
    *,
    is_instructor: bool,
    is_platform_admin: bool,
    today: dt.date,
    institution_id: int | None = None,
) -> list[Persona]:
    """``institution_id`` matters only when ``person`` is None (whether an administrator may set up)."""
    if person is None:
        return personas_from(
            session,
            None,
            lambda: policy,
            is_instructor=is_instructor,
            is_platform_admin=is_platform_admin,
            today=today,
            staffed=lambda: (
                False if institution_id is None else quality_center_staffed(session, institution_id)
            ),
        )
    unit = person.unit
    tenures = session.execute(_POSITIONS_OF, {"person_id": person.id}).all()
    return personas_from(
        session,
        person.id,
        lambda: policy,
        unit_function=unit.function if unit else None,
        unit_kind=unit.kind if unit else None,
        tenures=tenures,
        is_instructor=is_instructor,
        is_platform_admin=is_platform_admin,
        today=today,
        staffed=lambda: quality_center_staffed(session, person.institution_id),
    )


def personas_from(
    session: Session,
    person_id: int | None,
    policy: Callable[[], Policy],
    *,
    unit_function: str | None = None,
    unit_kind: str | None = None,
    tenures: Iterable[tuple[str, dt.date | None, dt.date | None]] = (),
    is_instructor: bool,
    is_platform_admin: bool,
    today: dt.date,
    staffed: Callable[[], bool] = lambda: False,
) -> list[Persona]:
    """``personas_for`` from what a launch has already read (``identity.LaunchIdentity``).

    ``staffed`` says whether the institution's quality center has anybody in the roster; it is asked
    only for a platform administrator.

    ``policy`` is called only when the person holds a position today: most people hold none, and then
    the launch needs no policy at all.
    """
    found: set[Persona] = set()
    if is_platform_admin and not staffed():
        found.add(Persona.QUALITY_CENTER)
    if person_id is not None:
        held = {
            code
            for code, start, end in tenures
            if (start is None or start <= today) and (end is None or end >= today)
        }
        if held:
            current = policy()
            if held & current.observing_positions():
                found.add(Persona.OBSERVER)
            if held & current.contact.branch_secretary_positions:
                found.add(Persona.BRANCH_SECRETARY)
        if unit_function == UnitFunction.QUALITY_CENTER:
            found.add(Persona.QUALITY_CENTER)
        elif unit_function == UnitFunction.ORGANIZATION:
            found.add(Persona.ORGANIZATION)
        elif unit_function == UnitFunction.SCHOOL_OFFICE:
            found.add(Persona.SCHOOL_OFFICE)
        if unit_kind == UnitKind.DEPARTMENT:
            found.add(Persona.HANDLER)
        # An Instructor launch is a teacher anyway: only ask the timetable when the LMS did not say so.
        if is_instructor or session.scalar(_TEACHES, {"person_id": person_id}):
            found.add(Persona.TEACHER)
    return [p for p in PERSONA_ORDER if p in found]
