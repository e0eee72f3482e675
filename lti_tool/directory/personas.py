"""Which personas a person has, decided from the roster and the policy, never from LTI custom params.

- observer: holds, today, a position the policy gives an observing or patrol duty;
- teacher: teaches a timetabled section, or is an Instructor in the launching LMS course;
- quality_center / organization: works in the unit with that function;
- handler: works in a functional department, which problems may be routed to;
- admin: the LMS says the launcher administers the platform (a signed claim, not a custom parameter),
  so a fresh install can be set up before any roster exists; it sees the quality-center pages.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding, UnitFunction, UnitKind
from lti_tool.policy.schema import Policy
from lti_tool.timetable.models import SectionTeacher


class Persona(StrEnum):
    QUALITY_CENTER = "quality_center"
    ORGANIZATION = "organization"
    OBSERVER = "observer"
    HANDLER = "handler"
    TEACHER = "teacher"


PERSONA_ORDER = [Persona.QUALITY_CENTER, Persona.ORGANIZATION, Persona.OBSERVER, Persona.HANDLER,
                 Persona.TEACHER]


def active_positions(session: Session, person_id: int, on: dt.date) -> set[str]:
    rows = session.scalars(
        select(PositionHolding).where(PositionHolding.person_id == person_id)
    )
    return {r.position_code for r in rows if r.held_during(on, on)}


def personas_for(session: Session, person: Person | None, policy: Policy, *, is_instructor: bool,
                 is_platform_admin: bool, today: dt.date) -> list[Persona]:
    found: set[Persona] = set()
    if is_platform_admin:
        found.add(Persona.QUALITY_CENTER)
    if person is not None:
        if active_positions(session, person.id, today) & policy.observing_positions():
            found.add(Persona.OBSERVER)
        unit = person.unit
        if unit is not None:
            if unit.function == UnitFunction.QUALITY_CENTER:
                found.add(Persona.QUALITY_CENTER)
            elif unit.function == UnitFunction.ORGANIZATION:
                found.add(Persona.ORGANIZATION)
            if unit.kind == UnitKind.DEPARTMENT:
                found.add(Persona.HANDLER)
        teaches = session.scalar(select(exists().where(SectionTeacher.person_id == person.id)))
        if teaches or is_instructor:
            found.add(Persona.TEACHER)
    return [p for p in PERSONA_ORDER if p in found]
