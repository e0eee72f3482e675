"""What each persona's home page shows; the worker and other pages reuse the same queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PlatformUser, PositionHolding, Unit
from lti_tool.lti.models import Platform
from lti_tool.policy.schema import Policy, Rule


@dataclass
class HeldPosition:
    code: str
    name: str
    start: dt.date | None
    end: dt.date | None
    rules: list[Rule] = field(default_factory=list)


@dataclass
class InstitutionOverview:
    units: int
    people: int
    cadres: int
    unmatched_users: int
    platforms: int


class HomeService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    def person(self, person_id: int) -> Person | None:
        person = self.session.get(Person, person_id)
        return person if person is not None and person.institution_id == self.institution_id else None

    def positions(self, person_id: int, today: dt.date) -> list[HeldPosition]:
        rows = self.session.scalars(
            select(PositionHolding)
            .where(
                PositionHolding.person_id == person_id, PositionHolding.institution_id == self.institution_id
            )
            .order_by(PositionHolding.start_date)
        )
        out = []
        for r in rows:
            if not r.held_during(today, today):
                continue
            definition = self.policy.positions.get(r.position_code)
            out.append(
                HeldPosition(
                    r.position_code,
                    definition.name if definition else r.position_code,
                    r.start_date,
                    r.end_date,
                    self.policy.rules_for({r.position_code}),
                )
            )
        return out

    def overview(self) -> InstitutionOverview:
        def count(model: Any, *where: Any) -> int:
            stmt = (
                select(func.count())
                .select_from(model)
                .where(model.institution_id == self.institution_id, *where)
            )
            return int(self.session.scalar(stmt) or 0)

        cadres = (
            self.session.scalar(
                select(func.count(func.distinct(PositionHolding.person_id))).where(
                    PositionHolding.institution_id == self.institution_id
                )
            )
            or 0
        )
        return InstitutionOverview(
            units=count(Unit),
            people=count(Person),
            cadres=int(cadres),
            unmatched_users=count(PlatformUser, PlatformUser.person_id.is_(None)),
            platforms=count(Platform),
        )
