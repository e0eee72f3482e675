"""Problems and their handling.

States: new → accepted → resolved → confirmed by the raiser; the handler may reject with a reason
(new/accepted → rejected); the raiser may reopen a resolved problem (resolved → accepted) when it is
not actually solved. Every step is a ``ProblemEvent`` (who, when, what was done: 处理情况). A problem is
overdue when it is still open (new/accepted) after the policy's ``problem_overdue_days`` ("迅速解决",
四.3). The same room raising the same category again is shown as a recurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import column, func, or_, select, table
from sqlalchemy.orm import Session, aliased

from lti_tool.db import get_scoped, utcnow
from lti_tool.directory.models import Person, Unit, UnitKind
from lti_tool.errors import Conflict, Detail, Forbidden, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.notifications.events import Audience, Event, Localized, register_audience
from lti_tool.notifications.services import NotificationService
from lti_tool.policy.schema import Policy
from lti_tool.problems.models import (
    OPEN_STATUSES,
    Photo,
    PhotoStage,
    Problem,
    ProblemEvent,
    ProblemStatus,
    is_overdue,
    overdue_condition,
    release_conditions,
)
from lti_tool.problems.photos import PhotoService, PhotoUpload

OPEN = OPEN_STATUSES
_CONTACT_RECORD = table("contact_record", column("id"), column("status"))
"""The contact records' table by name only (lti_tool/contacts is a sibling domain, not imported here): a
problem raised in a contact record reaches the unit once that record is submitted, as for observations."""


def released() -> list:
    """A problem has reached its unit: not before its record is submitted (observations/models.py registers
    that condition; a contact record's is here, by table name)."""
    contact_submitted = (
        select(_CONTACT_RECORD.c.id)
        .where(_CONTACT_RECORD.c.id == Problem.contact_record_id, _CONTACT_RECORD.c.status == "submitted")
        .exists()
    )
    return [*release_conditions(), or_(Problem.contact_record_id.is_(None), contact_submitted)]


# (from, to) → who may make the step: "handler" (the responsible unit) or "raiser".
TRANSITIONS = {
    (ProblemStatus.NEW, ProblemStatus.ACCEPTED): "handler",
    (ProblemStatus.NEW, ProblemStatus.REJECTED): "handler",
    (ProblemStatus.ACCEPTED, ProblemStatus.RESOLVED): "handler",
    (ProblemStatus.ACCEPTED, ProblemStatus.REJECTED): "handler",
    (ProblemStatus.RESOLVED, ProblemStatus.CONFIRMED): "raiser",
    (ProblemStatus.RESOLVED, ProblemStatus.ACCEPTED): "raiser",
}
NOTE_REQUIRED = {ProblemStatus.RESOLVED, ProblemStatus.REJECTED}


@dataclass
class ProblemView:
    problem: Problem
    overdue: bool
    days_open: int
    recurrences: int
    """How many other problems of the same category were raised in the same room."""


@dataclass
class NewProblem:
    category: str
    unit_id: int | None
    room: str
    description: str
    photos: Sequence[PhotoUpload] = field(default=())
    """Photos the raiser took (lti_tool/problems/photos.py), checked before anything is stored."""


PHOTO_READERS = ("handler", "quality_center", "observer", "organization")
"""The personas that open problem pages (and so their photos); ``require_visible`` narrows them."""


class ProblemService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    # -- raising ------------------------------------------------------------------------------------
    def validate_new(self, items: list[NewProblem]) -> list[Detail]:
        """Problems of each item (empty when all are fine), naming the field; used before storing."""
        categories = {c.code for c in self.policy.problem_categories}
        units = set(self.session.scalars(select(Unit.id).where(Unit.institution_id == self.institution_id)))
        errors: list[Detail] = []
        for i, item in enumerate(items, start=1):
            found = []
            if item.category not in categories:
                found.append(N_("Category: choose one of the policy's problem categories."))
            if item.unit_id is None or item.unit_id not in units:
                found.append(N_("Responsible unit: choose a unit."))
            if not item.description.strip():
                found.append(N_("Description: describe the problem."))
            elif len(item.description) > 5000:
                found.append(N_("Description: this text is too long."))
            errors += [
                (N_("Problem %(n)s — %(error)s"), {"n": i, "error": e}) if len(items) > 1 else e
                for e in found
            ]
        return errors

    def raise_problems(
        self,
        items: list[NewProblem],
        raised_by_id: int,
        *,
        observation_id: int | None = None,
        patrol_id: int | None = None,
        contact_record_id: int | None = None,
        reception_visit_id: int | None = None,
    ) -> list[Problem]:
        errors = self.validate_new(items)
        if errors:
            raise ValidationFailed("The problems cannot be stored.", details=errors)
        photo_service = PhotoService(self.session, self.institution_id)
        prepared = [photo_service.prepare_all(item.photos) for item in items]  # all checked before any row
        out = []
        for item in items:
            problem = Problem(
                institution_id=self.institution_id,
                observation_id=observation_id,
                patrol_id=patrol_id,
                contact_record_id=contact_record_id,
                reception_visit_id=reception_visit_id,
                raised_by_id=raised_by_id,
                unit_id=item.unit_id,
                category=item.category,
                room=item.room.strip()[:100],
                description=item.description.strip(),
                status=ProblemStatus.NEW,
            )
            problem.events.append(
                ProblemEvent(
                    person_id=raised_by_id, status=ProblemStatus.NEW, note=item.description.strip()[:2000]
                )
            )
            self.session.add(problem)
            out.append(problem)
        self.session.flush()
        for problem, photos in zip(out, prepared, strict=True):
            photo_service.attach(problem, photos, stage=PhotoStage.RAISED, person_id=raised_by_id)
        if observation_id is None and contact_record_id is None:
            self.announce_routed(out)  # a patrol's problems reach their unit at once
        return out

    # -- telling people (notifications) ---------------------------------------------------------------
    def handlers_of(self, unit_id: int | None) -> list[int]:
        """Who hears of a problem routed to ``unit_id``: the people of a functional department (the
        handler persona); for another unit, its people who hold a position (its heads)."""
        unit = self.session.get(Unit, unit_id) if unit_id is not None else None
        if unit is None or unit.institution_id != self.institution_id:
            return []
        stmt = select(Person.id).where(
            Person.institution_id == self.institution_id, Person.unit_id == unit.id
        )
        if unit.kind != UnitKind.DEPARTMENT:
            from lti_tool.directory.models import PositionHolding

            stmt = stmt.where(Person.id.in_(select(PositionHolding.person_id)))
        return list(self.session.scalars(stmt))

    def _words(self, problem: Problem) -> dict[str, object]:
        """The message's words; the category in each reader's language (the policy names it in both)."""
        categories = {
            c.code: Localized(c.display("zh_CN"), c.display("en")) for c in self.policy.problem_categories
        }
        unit = self.session.get(Unit, problem.unit_id) if problem.unit_id is not None else None
        return {
            "unit": unit.name if unit else "",
            "category": categories.get(problem.category, Localized(problem.category)),
            "room": problem.room or "—",
            "description": problem.description[:300],
            "date": problem.created_at.date().isoformat() if problem.created_at else "",
        }

    def announce_routed(self, problems: list[Problem]) -> int:
        """Tell the responsible unit that problems reached it (when they are released to it); returns how
        many outbox rows were written."""
        notifications = NotificationService(self.session, self.institution_id)
        told = 0
        for problem in problems:
            told += len(
                notifications.notify(
                    Event.PROBLEM_ROUTED,
                    self.handlers_of(problem.unit_id),
                    self._words(problem),
                    ref=f"problem:{problem.id}",
                    once=True,
                )
            )
        return told

    def announce_overdue(self, now: dt.datetime | None = None) -> int:
        """Tell the responsible units of their overdue problems, once per problem (the worker's tick)."""
        now = now or utcnow()
        notifications = NotificationService(self.session, self.institution_id)
        problems = self.session.scalars(
            select(Problem).where(
                Problem.institution_id == self.institution_id,
                overdue_condition(now, self.policy.problem_overdue_days),
                *released(),
            )
        )
        told = 0
        for problem in problems:
            words = self._words(problem) | {"days": self.policy.problem_overdue_days}
            told += len(
                notifications.notify(
                    Event.PROBLEM_OVERDUE,
                    self.handlers_of(problem.unit_id),
                    words,
                    ref=f"problem-overdue:{problem.id}",
                    once=True,
                )
            )
        return told

    # -- reading --------------------------------------------------------------------------------------
    def get(self, problem_id: int) -> Problem:
        problem = get_scoped(self.session, Problem, problem_id, self.institution_id)
        if problem is None:
            raise NotFound("No such problem.")
        return problem

    def is_overdue(self, problem: Problem, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return is_overdue(problem.status, problem.created_at, now, self.policy.problem_overdue_days)

    def listing(
        self,
        *,
        unit_id: int | None = None,
        raised_by_id: int | None = None,
        status: str | None = None,
        overdue_only: bool = False,
        limit: int = 200,
    ) -> list[ProblemView]:
        other = aliased(Problem)
        recurrences = (
            select(func.count(other.id))
            .where(
                other.institution_id == Problem.institution_id,
                other.category == Problem.category,
                other.room == Problem.room,
                other.room != "",
                other.id != Problem.id,
            )
            .correlate(Problem)
            .scalar_subquery()
        )
        stmt = (
            select(Problem, recurrences)
            .where(Problem.institution_id == self.institution_id)
            .where(*released())
        )
        if unit_id is not None:
            stmt = stmt.where(Problem.unit_id == unit_id)
        if raised_by_id is not None:
            stmt = stmt.where(Problem.raised_by_id == raised_by_id)
        if status:
            stmt = stmt.where(Problem.status == status)
        if overdue_only:
            stmt = stmt.where(overdue_condition(utcnow(), self.policy.problem_overdue_days))
        now = utcnow()
        rows = self.session.execute(stmt.order_by(Problem.created_at.desc()).limit(limit)).all()
        return [
            ProblemView(p, self.is_overdue(p, now), (now - p.created_at).days, int(n or 0)) for p, n in rows
        ]

    def view(self, problem: Problem) -> ProblemView:
        recurrences = 0
        if problem.room:
            recurrences = int(
                self.session.scalar(
                    select(func.count(Problem.id)).where(
                        Problem.institution_id == self.institution_id,
                        Problem.category == problem.category,
                        Problem.room == problem.room,
                        Problem.id != problem.id,
                    )
                )
                or 0
            )
        now = utcnow()
        return ProblemView(
            problem, self.is_overdue(problem, now), (now - problem.created_at).days, recurrences
        )

    # -- who sees a problem -----------------------------------------------------------------------------
    def require_readable(self, persona: str) -> None:
        """Problems and their handling notes are not the organization department's unless the policy
        grants it (``organization_reads_personal_files``, issue 13 §7); decided before any problem is read."""
        if not self.policy.reads_personal_files(persona):
            raise Forbidden("Problems and their handling are not part of your role's pages.")

    def require_visible(self, problem: Problem, persona: str, person: Person | None) -> None:
        """The one rule for a problem's page and its photos: the quality center (and the organization
        department where the policy lets it) sees every problem; a handler or an observer only one routed to
        their unit or raised by them."""
        self.require_readable(persona)
        if persona not in PHOTO_READERS:
            raise Forbidden("This problem is not routed to your unit and was not raised by you.")
        if persona in ("handler", "observer") and not self.role_of(problem, person):
            raise Forbidden("This problem is not routed to your unit and was not raised by you.")

    # -- photos ---------------------------------------------------------------------------------------
    def photos(self, problem: Problem) -> list[Photo]:
        return PhotoService(self.session, self.institution_id).of_problem(problem.id)

    def photo_stage(self, problem: Problem, person: Person | None, persona: str) -> PhotoStage | None:
        """Which photos this person may add now: the unit's (resolution) while it handles the problem, the
        raiser's while it is not closed; ``None`` when they may add none."""
        roles = self.role_of(problem, person)
        if persona == "handler" and "handler" in roles and problem.status in OPEN:
            return PhotoStage.RESOLUTION
        if "raiser" in roles and problem.status in (*OPEN, ProblemStatus.RESOLVED):
            return PhotoStage.RAISED
        return None

    def add_photos(
        self, problem_id: int, person: Person, persona: str, uploads: Sequence[PhotoUpload]
    ) -> list[Photo]:
        problem = self.get(problem_id)
        if not self.role_of(problem, person):  # before the state, as for a step
            raise Forbidden("Only the responsible unit or the person who raised it can do this.")
        stage = self.photo_stage(problem, person, persona)
        if stage is None:
            raise Conflict("This problem is closed; no photos can be added.")
        return PhotoService(self.session, self.institution_id).add(
            problem, uploads, stage=stage, person_id=person.id
        )

    # -- handling -------------------------------------------------------------------------------------
    def role_of(self, problem: Problem, person: Person | None) -> set[str]:
        roles = set()
        if person is not None:
            if problem.unit_id is not None and person.unit_id == problem.unit_id:
                roles.add("handler")
            if person.id == problem.raised_by_id:
                roles.add("raiser")
        return roles

    def allowed_steps(self, problem: Problem, person: Person | None) -> list[str]:
        roles = self.role_of(problem, person)
        return [to for (frm, to), who in TRANSITIONS.items() if frm == problem.status and who in roles]

    def step(
        self,
        problem_id: int,
        to_status: str,
        person: Person,
        note: str,
        photos: Sequence[PhotoUpload] = (),
    ) -> Problem:
        """One step of the handling; photos sent with it (the unit's, of what was done) are checked before
        the step is stored."""
        problem = self.get(problem_id)
        roles = self.role_of(problem, person)
        if not roles:  # decided before the state: no 409 tells an outsider where the problem stands
            raise Forbidden("Only the responsible unit or the person who raised it can do this.")
        who = (
            TRANSITIONS.get((ProblemStatus(problem.status), ProblemStatus(to_status)))
            if to_status in ProblemStatus.__members__.values()
            else None
        )
        if who is None:
            raise Conflict(
                "A problem that is %(current)s cannot become %(target)s.",
                current=problem.status,
                target=to_status,
            )
        if who not in roles:
            raise Forbidden("Only the responsible unit or the person who raised it can do this.")
        note = note.strip()
        if to_status in NOTE_REQUIRED and not note:
            raise ValidationFailed("Please say what was done (处理情况) or why it is rejected.")
        photo_service = PhotoService(self.session, self.institution_id)
        prepared = photo_service.prepare_all(photos, already=photo_service.count(problem.id))
        problem.status = to_status
        if to_status == ProblemStatus.RESOLVED:
            problem.resolved_at = utcnow()
        problem.events.append(ProblemEvent(person_id=person.id, status=to_status, note=note[:5000]))
        self.session.flush()
        stage = PhotoStage.RESOLUTION if who == "handler" else PhotoStage.RAISED
        photo_service.attach(problem, prepared, stage=stage, person_id=person.id)
        if to_status == ProblemStatus.RESOLVED:
            NotificationService(self.session, self.institution_id).notify(
                Event.PROBLEM_RESOLVED,
                [problem.raised_by_id],
                self._words(problem) | {"note": note[:300]},
            )
        return problem

    def route_units(self) -> list[Unit]:
        """Units a problem can be routed to: functional departments first, then colleges."""
        order = {UnitKind.DEPARTMENT: 0, UnitKind.COLLEGE: 1, UnitKind.MARXISM_SCHOOL: 2}
        units = self.session.scalars(select(Unit).where(Unit.institution_id == self.institution_id))
        return sorted(units, key=lambda u: (order.get(UnitKind(u.kind), 9), u.code))

    def counts_by_status(self) -> dict[str, int]:
        rows = self.session.execute(
            select(Problem.status, func.count())
            .where(Problem.institution_id == self.institution_id)
            .group_by(Problem.status)
        )
        return {status: int(n) for status, n in rows}


@register_audience(Audience.UNIT_HEAD)
def heads_a_unit(session: Session, institution_id: int, person_id: int, today: dt.date) -> bool:
    """``ProblemService.handlers_of``' rule for a unit that is not a functional department: its people
    who hold a position hear of its problems (and letters and proposals routed to it)."""
    from lti_tool.directory.models import PositionHolding

    found = session.scalar(
        select(Person.id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(
            Person.institution_id == institution_id,
            Person.id == person_id,
            Unit.kind != UnitKind.DEPARTMENT,
            Person.id.in_(select(PositionHolding.person_id)),
        )
        .limit(1)
    )
    return found is not None
