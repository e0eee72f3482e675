"""Contact points and contact records: the school office's assignments, the leader's records, the branch's
confirmation and the unit side of C-1c.

What is refused and what is stored (issue 9 §4b, docs/policy-rules.md "Grassroots-contact system"):

- refused (nothing stored, the field or the row and column named): a target that does not exist or is not of
  its stated kind; a college that is not a teaching college (教学院（部）); a party-branch contact point of a
  college the person neither contacts that year nor belongs to (C-3a); a branch activity that does not
  target a party branch; dates outside the academic year; a record dated in the future;
- stored and flagged by compliance, never refused: too many colleges, a college repeated from the previous
  year (C-1a); a record outside the person's tenure or outside a contact point's dates (not counted).

A record's life is the observation record's: a server-side draft autosaved while the leader types (every
save bumps ``draft_version`` with a conditional UPDATE, so a stale tab gets 409), then submitted; a group
record names several leaders (``ContactMember``), each credited once. Problems raised in a record go
through the problem loop (lti_tool/problems) to the responsible unit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from lti_tool import clock
from lti_tool.academic_year import academic_year_bounds, academic_year_of, parse_academic_year
from lti_tool.contacts.models import (
    LABEL_TARGETS,
    BranchConfirmation,
    ContactKind,
    ContactMember,
    ContactPoint,
    ContactPointKind,
    ContactRecord,
    ContactRole,
    ContactStatus,
    TargetKind,
)
from lti_tool.db import get_scoped, utcnow
from lti_tool.directory.models import Person, PositionHolding, StudentClass, Unit, UnitKind
from lti_tool.drafts import RecordIncomplete, SaveResult, bump_draft_version
from lti_tool.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.inputs import parse_int, row_id
from lti_tool.notifications.events import Event
from lti_tool.notifications.services import NotificationService
from lti_tool.policy.schema import Policy
from lti_tool.problems.models import Problem, ProblemStatus
from lti_tool.problems.photos import PhotoUpload
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.tenancy import Institution

logger = logging.getLogger(__name__)

TEACHING_COLLEGE_KINDS = (UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL)
"""教学院（部）: the teaching colleges and the Marxism School (a 部) may be contacted as a college (C-1a)."""
UNIT_KIND_OF_TARGET: dict[str, tuple[str, ...]] = {
    TargetKind.COLLEGE: TEACHING_COLLEGE_KINDS,
    TargetKind.TEACHING_OFFICE: (UnitKind.TEACHING_OFFICE,),
    TargetKind.LAB: (UnitKind.LAB,),
    TargetKind.PARTY_BRANCH: (UnitKind.PARTY_BRANCH,),
}
"""Which directory units fit a target kind (``unit`` fits any unit)."""
TEXT_FIELDS = {
    "place": 200,
    "content": 20000,
    "opinions": 20000,
    "follow_up": 20000,
    "leader_opinion": 20000,
}
"""Free-text fields of a record and their length limits."""
REPORT_KINDS = (ContactKind.WORK_REPORT, ContactKind.CONSULTATION)
"""C-1c: a unit reports its work to, or asks the opinion of, its contact leader."""


@dataclass
class Target:
    """A resolved contact target: a unit, a student class or a name."""

    kind: str
    unit: Unit | None = None
    student_class: StudentClass | None = None
    label: str = ""

    @property
    def name(self) -> str:
        if self.unit is not None:
            return self.unit.name
        if self.student_class is not None:
            return self.student_class.name
        return self.label


FIELD_LABELS = {
    "date": N_("Date"),
    "kind": N_("Kind of activity"),
    "contact_point_id": N_("Contact point"),
    "target_kind": N_("Kind of target"),
    "target": N_("Target"),
    "place": N_("Place"),
    "participants": N_("Participants"),
    "content": N_("What was done"),
    "opinions": N_("Opinions and suggestions heard"),
    "follow_up": N_("Follow-up"),
    "leader_opinion": N_("The leader's opinion"),
}


class ContactDirectory:
    """Resolving targets by code or name, the way the pages and the imports name them."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self._units: dict[str, Unit] | None = None
        self._classes: dict[str, StudentClass] | None = None

    def units(self) -> dict[str, Unit]:
        if self._units is None:
            self._units = {}
            for unit in self.session.scalars(
                select(Unit).where(Unit.institution_id == self.institution_id).order_by(Unit.code)
            ):
                self._units.setdefault(unit.name, unit)
                self._units[unit.code] = unit
        return self._units

    def classes(self) -> dict[str, StudentClass]:
        if self._classes is None:
            self._classes = {
                c.name: c
                for c in self.session.scalars(
                    select(StudentClass).where(StudentClass.institution_id == self.institution_id)
                )
            }
        return self._classes

    def resolve(self, kind: str, text: str) -> Target:
        """The target ``text`` names for ``kind``; ``ValueError(msgid)`` when it does not exist or fit."""
        text = (text or "").strip()
        if kind not in TargetKind.__members__.values():
            raise ValueError(N_("Choose the kind of target."))
        if not text:
            raise ValueError(N_("Name the target."))
        if kind in LABEL_TARGETS:
            if len(text) > 200:
                raise ValueError(N_("This text is too long."))
            return Target(kind, label=text)
        if kind == TargetKind.STUDENT_CLASS:
            found = self.classes().get(text)
            if found is None:
                raise ValueError(N_("No such student class (as the timetable names it)."))
            return Target(kind, student_class=found)
        unit = self.units().get(text)
        if unit is None:
            raise ValueError(N_("No such unit."))
        allowed = UNIT_KIND_OF_TARGET.get(kind)
        if allowed is not None and unit.kind not in allowed:
            raise ValueError(
                N_("This is not a teaching college.")
                if kind == TargetKind.COLLEGE
                else N_("This unit is not of the chosen kind.")
            )
        return Target(kind, unit=unit)


def target_of(record: ContactRecord | ContactPoint) -> str:
    """The name of a record's or a point's target, as people read it."""
    if record.unit is not None:
        return record.unit.name
    if record.student_class is not None:
        return record.student_class.name
    return record.target_label if isinstance(record, ContactRecord) else record.label


class ContactPointService:
    """The school office's contact assignments per academic year (C-1a, C-2a, C-3a)."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    @property
    def year_start(self) -> str:
        return self.policy.contact.academic_year_start

    def current_year(self, today: dt.date) -> str:
        return academic_year_of(today, self.year_start)

    def year(self, text: str | None, today: dt.date) -> str:
        """A year from a query string (``2026-2027``), or the current one; anything else is a 400."""
        if not text:
            return self.current_year(today)
        try:
            return parse_academic_year(text)
        except ValueError:
            raise BadRequest(
                "“%(value)s” is not an academic year such as 2026-2027.", value=text[:40]
            ) from None

    def points(self, academic_year: str, person_id: int | None = None) -> list[ContactPoint]:
        stmt = (
            select(ContactPoint)
            .where(
                ContactPoint.institution_id == self.institution_id,
                ContactPoint.academic_year == academic_year,
            )
            .options(
                selectinload(ContactPoint.person),
                selectinload(ContactPoint.unit),
                selectinload(ContactPoint.student_class),
            )
            .order_by(ContactPoint.person_id, ContactPoint.kind, ContactPoint.id)
        )
        if person_id is not None:
            stmt = stmt.where(ContactPoint.person_id == person_id)
        return list(self.session.scalars(stmt))

    def by_person(self, academic_year: str) -> list[tuple[Person, list[ContactPoint]]]:
        """The year's points grouped by person, people ordered by employee number."""
        grouped: dict[int, tuple[Person, list[ContactPoint]]] = {}
        for point in self.points(academic_year):
            grouped.setdefault(point.person_id, (point.person, []))[1].append(point)
        return sorted(grouped.values(), key=lambda item: item[0].employee_no)

    def contact_leaders(self, unit_id: int, academic_year: str) -> list[Person]:
        """The people who hold ``unit_id`` (a college) as a contact point that year (C-1c)."""
        return list(
            self.session.scalars(
                select(Person)
                .join(ContactPoint, ContactPoint.person_id == Person.id)
                .where(
                    ContactPoint.institution_id == self.institution_id,
                    ContactPoint.academic_year == academic_year,
                    ContactPoint.kind == ContactPointKind.COLLEGE,
                    ContactPoint.unit_id == unit_id,
                )
                .order_by(Person.employee_no)
                .distinct()
            )
        )

    def check_point(
        self,
        person: Person,
        academic_year: str,
        kind: str,
        target: Target,
        start: dt.date | None,
        end: dt.date | None,
        colleges: set[int],
    ) -> dict[str, str]:
        """What is wrong with one point (field → msgid); ``colleges`` are the person's colleges that year."""
        problems: dict[str, str] = {}
        if kind not in ContactPointKind.__members__.values():
            problems["kind"] = N_("Not a kind of contact point.")
            return problems
        begin, finish = academic_year_bounds(academic_year, self.year_start)
        for name, day in (("start", start), ("end", end)):
            if day is not None and not begin <= day <= finish:
                problems[name] = N_("The date is outside the academic year.")
        if start and end and end < start:
            problems["end"] = N_("The end is before the start.")
        if kind == ContactPointKind.PARTY_BRANCH and target.unit is not None:
            parent = target.unit.parent_id
            if parent not in colleges and parent != person.unit_id:
                problems["target"] = N_(
                    "This branch belongs to a college the person neither contacts this year nor belongs to "
                    "(C-3a)."
                )
        return problems

    def add(
        self,
        actor_person_id: int | None,
        person_ref: Any,
        academic_year: str,
        kind: str,
        target_text: str,
        start: dt.date | None,
        end: dt.date | None,
    ) -> ContactPoint:
        """One point added on the school office's page; a bad field is a 422 naming it."""
        person = get_scoped(self.session, Person, row_id(person_ref), self.institution_id)
        if person is None:
            person = self.session.scalars(
                select(Person).where(
                    Person.institution_id == self.institution_id,
                    Person.employee_no == str(person_ref or "").strip(),
                )
            ).first()
        if person is None:
            raise ValidationFailed("Choose a person of the roster (by employee number).")
        try:
            target = ContactDirectory(self.session, self.institution_id).resolve(kind, target_text)
        except ValueError as exc:
            raise ValidationFailed(
                "The contact point cannot be stored.",
                details=[(N_("%(field)s: %(need)s"), {"field": N_("Target"), "need": str(exc)})],
            ) from None
        colleges = {
            p.unit_id
            for p in self.points(academic_year, person.id)
            if p.kind == ContactPointKind.COLLEGE and p.unit_id is not None
        }
        if kind == ContactPointKind.COLLEGE and target.unit is not None:
            colleges.add(target.unit.id)
        problems = self.check_point(person, academic_year, kind, target, start, end, colleges)
        if problems:
            labels = {"kind": N_("Kind"), "target": N_("Target"), "start": N_("Start"), "end": N_("End")}
            raise ValidationFailed(
                "The contact point cannot be stored.",
                details=[
                    (N_("%(field)s: %(need)s"), {"field": labels[k], "need": v}) for k, v in problems.items()
                ],
            )
        for existing in self.points(academic_year, person.id):
            if existing.kind == kind and _same_target(existing, target):
                raise Conflict("%(name)s already has this contact point.", name=person.name)
        point = ContactPoint(
            institution_id=self.institution_id,
            person_id=person.id,
            academic_year=academic_year,
            kind=kind,
            unit_id=target.unit.id if target.unit else None,
            student_class_id=target.student_class.id if target.student_class else None,
            label=target.label,
            start_date=start,
            end_date=end,
        )
        self.session.add(point)
        self.session.flush()
        logger.info(
            "contact point added: institution=%s actor=%s person=%s year=%s kind=%s",
            self.institution_id,
            actor_person_id,
            person.employee_no,
            academic_year,
            kind,
        )
        return point

    def remove(self, actor_person_id: int | None, point_id: int) -> ContactPoint:
        point = get_scoped(self.session, ContactPoint, point_id, self.institution_id)
        if point is None:
            raise NotFound("No such contact point.")
        self.session.delete(point)
        self.session.flush()
        logger.info(
            "contact point removed: institution=%s actor=%s point=%s",
            self.institution_id,
            actor_person_id,
            point_id,
        )
        return point


def _same_target(point: ContactPoint, target: Target) -> bool:
    return (
        point.unit_id == (target.unit.id if target.unit else None)
        and point.student_class_id == (target.student_class.id if target.student_class else None)
        and (point.label or "") == (target.label or "")
    )


class ContactRecordService:
    """The leader's contact records: drafts, autosave, submit, group members, problems (C-7a)."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self._tz: ZoneInfo | None = None

    # -- clock and lookups -------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        """The college's time zone (lti_tool/clock.py: the institution's own, else the configured one)."""
        if self._tz is None:
            self._tz = clock.zone(self.session.get(Institution, self.institution_id))
        return self._tz

    def today(self) -> dt.date:
        """The college's date today (its time zone, never the server's)."""
        return clock.today(self.tz)

    def points(self) -> ContactPointService:
        return ContactPointService(self.session, self.institution_id, self.policy)

    def _person(self, person_id: int | None) -> Person:
        person = get_scoped(self.session, Person, person_id, self.institution_id)
        if person is None:
            raise NotFound("No such person in the roster.")
        return person

    def get(self, record_id: int) -> ContactRecord:
        record = get_scoped(self.session, ContactRecord, record_id, self.institution_id)
        if record is None:
            raise NotFound("No contact record %(id)s.", id=record_id)
        return record

    def is_member(self, record: ContactRecord, person_id: int) -> bool:
        return record.author_id == person_id or any(m.person_id == person_id for m in record.members)

    def get_for_member(self, person_id: int, record_id: int) -> ContactRecord:
        """A record its author or one of its members may open; anybody else gets 404."""
        record = self.get(record_id)
        if not self.is_member(record, person_id) and record.reported_by_id != person_id:
            raise NotFound("No contact record %(id)s.", id=record_id)
        return record

    def can_edit(self, record: ContactRecord, person_id: int) -> bool:
        return record.author_id == person_id and record.status == ContactStatus.DRAFT

    def _check_editable(self, record: ContactRecord, person_id: int) -> None:
        if record.author_id != person_id:
            raise Forbidden("Only the author may change this record.")
        if record.status != ContactStatus.DRAFT:
            raise Conflict("This record has already been submitted.")

    def my_records(self, person_id: int) -> tuple[list[ContactRecord], list[ContactRecord]]:
        """(drafts, submitted) of records the person wrote or is a member of, newest first."""
        rows = list(
            self.session.scalars(
                select(ContactRecord)
                .where(
                    ContactRecord.institution_id == self.institution_id,
                    or_(
                        ContactRecord.author_id == person_id,
                        ContactRecord.id.in_(
                            select(ContactMember.record_id).where(ContactMember.person_id == person_id)
                        ),
                    ),
                )
                .options(selectinload(ContactRecord.unit), selectinload(ContactRecord.student_class))
                .order_by(ContactRecord.date.desc(), ContactRecord.id.desc())
            )
        )
        drafts = [r for r in rows if r.status == ContactStatus.DRAFT and r.author_id == person_id]
        return drafts, [r for r in rows if r.status == ContactStatus.SUBMITTED]

    def awaiting_opinion(self, person_id: int) -> list[ContactRecord]:
        """C-1c: work reports and consultations a unit recorded for this leader, with no opinion yet."""
        return list(
            self.session.scalars(
                select(ContactRecord)
                .where(
                    ContactRecord.institution_id == self.institution_id,
                    ContactRecord.author_id == person_id,
                    ContactRecord.reported_by_id.is_not(None),
                    ContactRecord.leader_opinion == "",
                )
                .order_by(ContactRecord.date.desc())
            )
        )

    # -- the record's life -------------------------------------------------------------------------
    def start(self, author_id: int, prefill: dict[str, Any] | None = None) -> ContactRecord:
        """A new draft, optionally prefilled (the duty page's "record it now": kind and target)."""
        author = self._person(author_id)
        record = ContactRecord(
            institution_id=self.institution_id,
            author_id=author.id,
            kind=ContactKind.VISIT,
            date=self.today(),
            status=ContactStatus.DRAFT,
            draft_version=0,
        )
        record.members.append(
            ContactMember(institution_id=self.institution_id, person_id=author.id, role="author")
        )
        self.session.add(record)
        self.session.flush()
        if prefill:
            parsed, _invalid = self._parse(record, {k: v for k, v in prefill.items() if k in FIELD_LABELS})
            self._apply(record, parsed)
            self.session.flush()
        return record

    def values(self, record: ContactRecord) -> dict[str, str]:
        """The record as the form's inputs show it."""
        target = ""
        if record.unit is not None:
            target = record.unit.name
        elif record.student_class is not None:
            target = record.student_class.name
        else:
            target = record.target_label
        return {
            "date": record.date.isoformat() if record.date else "",
            "kind": record.kind or "",
            "contact_point_id": str(record.contact_point_id or ""),
            "target_kind": record.target_kind or "",
            "target": target,
            "place": record.place,
            "participants": "" if record.participants is None else str(record.participants),
            "content": record.content,
            "opinions": record.opinions,
            "follow_up": record.follow_up,
            "leader_opinion": record.leader_opinion,
        }

    def _parse(self, record: ContactRecord, fields: Any) -> tuple[dict[str, Any], dict[str, str]]:
        if not isinstance(fields, dict):
            raise BadRequest("The saved data must be an object of field names and values.")
        parsed: dict[str, Any] = {}
        invalid: dict[str, str] = {}
        for name, raw in fields.items():
            if name not in FIELD_LABELS:
                continue
            if raw is not None and not isinstance(raw, str | int):
                invalid[name] = N_("This field takes text.")
                continue
            text = "" if raw is None else str(raw).strip()
            if name in TEXT_FIELDS:
                if len(text) > TEXT_FIELDS[name]:
                    invalid[name] = N_("This text is too long.")
                else:
                    parsed[name] = text
            elif name == "date":
                try:
                    parsed[name] = dt.date.fromisoformat(text)
                except ValueError:
                    invalid[name] = N_("Enter a date (YYYY-MM-DD).")
            elif name == "kind":
                if text in ContactKind.__members__.values():
                    parsed[name] = text
                else:
                    invalid[name] = N_("Choose the kind of activity.")
            elif name == "participants":
                number = parse_int(text, 0, 100000) if text else None
                if text and number is None:
                    invalid[name] = N_("Enter a whole number.")
                else:
                    parsed[name] = number
            elif name == "contact_point_id":
                point_id = row_id(text) if text else None
                point = (
                    get_scoped(self.session, ContactPoint, point_id, self.institution_id)
                    if point_id
                    else None
                )
                if text and (point is None or point.person_id != record.author_id):
                    invalid[name] = N_("Choose one of your contact points.")
                else:
                    parsed[name] = point
            elif name == "target_kind":
                if text and text not in TargetKind.__members__.values():
                    invalid[name] = N_("Choose the kind of target.")
                else:
                    parsed[name] = text
            else:  # target: resolved together with its kind
                parsed[name] = text
        return parsed, invalid

    def _apply(self, record: ContactRecord, parsed: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
        """Write parsed values; the target is resolved against the (possibly new) kind of target."""
        changed: list[str] = []
        invalid: dict[str, str] = {}
        before = self.values(record)
        for name in ("date", "kind", "place", "participants", *TEXT_FIELDS):
            if name in parsed and getattr(record, name) != parsed[name]:
                setattr(record, name, parsed[name])
                changed.append(name)
        if "contact_point_id" in parsed:
            point = parsed["contact_point_id"]
            record.contact_point_id = point.id if point else None
            if point is not None:
                record.target_kind = point.kind
                record.unit_id, record.student_class_id = point.unit_id, point.student_class_id
                record.target_label = point.label
            changed.append("contact_point_id")
        if record.contact_point_id is None and ("target_kind" in parsed or "target" in parsed):
            kind = parsed.get("target_kind", record.target_kind)
            text = parsed.get("target", before["target"])
            record.target_kind = kind
            record.unit_id = record.student_class_id = None
            record.target_label = text[:200]
            if kind and text:
                try:
                    target = ContactDirectory(self.session, self.institution_id).resolve(kind, text)
                except ValueError as exc:
                    invalid["target"] = str(exc)
                else:
                    record.unit_id = target.unit.id if target.unit else None
                    record.student_class_id = target.student_class.id if target.student_class else None
                    record.target_label = target.label
            changed += [n for n in ("target_kind", "target") if n in parsed]
        self.session.flush()
        self.session.expire(record, ["unit", "student_class", "contact_point"])
        return changed, invalid

    def autosave(
        self, record: ContactRecord, person_id: int, fields: Any, expected_draft_version: Any
    ) -> SaveResult[ContactRecord]:
        """Store what changed; unreadable values are reported next to their field, the rest is kept."""
        self._check_editable(record, person_id)
        parsed, invalid = self._parse(record, fields)
        bump_draft_version(self.session, record, expected_draft_version)
        saved, more = self._apply(record, parsed)
        return SaveResult(record, saved, invalid | more)

    def missing(self, record: ContactRecord) -> dict[str, str]:
        """What submit still needs (field → msgid); the §4b refusals of a target are named here too."""
        need: dict[str, str] = {}
        if record.date is None:
            need["date"] = N_("Enter the date.")
        elif record.date > self.today():
            need["date"] = N_("The activity has not happened yet: record it on the day or after.")
        if not record.target_kind:
            need["target_kind"] = N_("Choose the kind of target.")
        elif record.unit_id is None and record.student_class_id is None and not record.target_label:
            need["target"] = N_("Name the target.")
        elif (
            record.target_kind not in LABEL_TARGETS
            and record.unit_id is None
            and record.student_class_id is None
        ):
            need["target"] = N_("No such target: choose one of the list.")
        if record.kind == ContactKind.BRANCH_ACTIVITY and record.target_kind != TargetKind.PARTY_BRANCH:
            need["target_kind"] = N_("A branch activity is held by a party branch: choose the branch.")
        if not record.content.strip():
            need["content"] = N_("Describe what was done.")
        return need

    def labels(self) -> dict[str, str]:
        return dict(FIELD_LABELS)

    def submit(
        self, record: ContactRecord, person_id: int, expected_draft_version: Any = None
    ) -> ContactRecord:
        self._check_editable(record, person_id)
        missing = self.missing(record)
        if missing:
            raise RecordIncomplete(missing, self.labels())
        if expected_draft_version is not None:
            bump_draft_version(self.session, record, expected_draft_version)
        self._link_point(record)
        record.status = ContactStatus.SUBMITTED
        record.submitted_at = utcnow()
        self.session.flush()
        self._announce_submitted(record)
        logger.info(
            "contact record submitted: institution=%s actor=%s record=%s kind=%s members=%s",
            self.institution_id,
            person_id,
            record.id,
            record.kind,
            len(record.members),
        )
        return record

    def _announce_submitted(self, record: ContactRecord) -> None:
        """The record's problems reach their units; a branch activity waits for its branch secretary."""
        ProblemService(self.session, self.institution_id, self.policy).announce_routed(self.problems(record))
        if record.kind != ContactKind.BRANCH_ACTIVITY or record.confirmed_on_paper or record.unit_id is None:
            return
        branch = self.session.get(Unit, record.unit_id)
        NotificationService(self.session, self.institution_id).notify(
            Event.BRANCH_CONFIRMATION,
            BranchConfirmationService(self.session, self.institution_id, self.policy).secretaries_of(
                record.unit_id, self.today()
            ),
            {
                "leader": record.author.name,
                "branch": branch.name if branch else "",
                "date": record.date.isoformat() if record.date else "",
                "topic": (record.content or "").strip().splitlines()[0][:80] if record.content else "—",
            },
            ref=f"contact-record:{record.id}",
            once=True,
        )

    def _link_point(self, record: ContactRecord) -> None:
        """A record about one of the author's contact points of its year is linked to it (C-2b counts it)."""
        if record.contact_point_id is not None or record.date is None:
            return
        year = academic_year_of(record.date, self.policy.contact.academic_year_start)
        for point in self.points().points(year, record.author_id):
            if (
                point.kind == record.target_kind
                and point.unit_id == record.unit_id
                and point.student_class_id == record.student_class_id
                and (point.label or "")
                == (record.target_label if record.target_kind in LABEL_TARGETS else "")
            ):
                record.contact_point_id = point.id
                return

    def discard(self, record: ContactRecord, person_id: int) -> None:
        self._check_editable(record, person_id)
        self.session.delete(record)
        self.session.flush()

    # -- group records -----------------------------------------------------------------------------
    def add_member(self, record: ContactRecord, person_id: int, other_ref: Any) -> ContactMember:
        """Another leader who took part: the record counts for them too, once (group activity)."""
        self._check_editable(record, person_id)
        other = get_scoped(self.session, Person, row_id(other_ref), self.institution_id)
        if other is None:
            raise NotFound("No such person in the roster.")
        if any(m.person_id == other.id for m in record.members):
            raise Conflict("%(name)s is already on this record.", name=other.name)
        member = ContactMember(
            institution_id=self.institution_id, person_id=other.id, role=ContactRole.MEMBER
        )
        record.members.append(member)
        self.session.flush()
        return member

    def remove_member(self, record: ContactRecord, person_id: int, member_id: int) -> None:
        self._check_editable(record, person_id)
        member = next((m for m in record.members if m.id == member_id), None)
        if member is None or member.role == ContactRole.AUTHOR:
            raise NotFound("No such member on this record.")
        record.members.remove(member)
        self.session.flush()

    # -- problems raised ---------------------------------------------------------------------------
    def raise_problem(
        self,
        record: ContactRecord,
        person_id: int,
        *,
        category: str,
        unit_id: Any,
        description: str,
        photos: Sequence[PhotoUpload] = (),
    ) -> Problem:
        """A problem heard in the contact, routed to its responsible unit (the problem loop, O-9), with the
        photos the author took (lti_tool/problems/photos.py)."""
        if record.author_id != person_id:
            raise Forbidden("Only the author may change this record.")
        item = NewProblem(category, row_id(unit_id), (record.place or "")[:100], description or "", photos)
        (problem,) = ProblemService(self.session, self.institution_id, self.policy).raise_problems(
            [item], person_id, contact_record_id=record.id
        )
        return problem

    def problems(self, record: ContactRecord) -> list[Problem]:
        return list(
            self.session.scalars(
                select(Problem)
                .where(Problem.institution_id == self.institution_id, Problem.contact_record_id == record.id)
                .order_by(Problem.id)
            )
        )

    def withdraw_problem(self, record: ContactRecord, person_id: int, problem_id: int) -> None:
        if record.author_id != person_id:
            raise Forbidden("Only the author may change this record.")
        problem = get_scoped(self.session, Problem, problem_id, self.institution_id)
        if problem is None or problem.contact_record_id != record.id:
            raise NotFound("No such problem on this record.")
        if problem.status != ProblemStatus.NEW:
            raise Conflict("The responsible unit is already handling this problem.")
        self.session.delete(problem)
        self.session.flush()

    # -- C-1c: the leader's opinion on a unit's report ---------------------------------------------
    def give_opinion(self, record: ContactRecord, person_id: int, text: str) -> ContactRecord:
        if record.author_id != person_id or record.reported_by_id is None:
            raise Forbidden("Only the contact leader gives the opinion on this report.")
        text = (text or "").strip()
        if not text:
            raise ValidationFailed("Write the opinion you gave.")
        if len(text) > TEXT_FIELDS["leader_opinion"]:
            raise ValidationFailed("This text is too long.")
        record.leader_opinion = text
        self.session.flush()
        return record


class UnitReportService:
    """The unit side of C-1c: a college head records a work report to, or a consultation of, the college's
    contact leader; the record is the leader's (it goes to their archive) and waits for their opinion."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.records = ContactRecordService(session, institution_id, policy)

    def leaders_for(self, person: Person) -> list[Person]:
        """The contact leaders of the person's own college this academic year (empty: no unit side)."""
        if person.unit_id is None:
            return []
        year = self.records.points().current_year(self.records.today())
        return self.records.points().contact_leaders(person.unit_id, year)

    def reports_by(self, person: Person) -> list[ContactRecord]:
        return list(
            self.session.scalars(
                select(ContactRecord)
                .where(
                    ContactRecord.institution_id == self.institution_id,
                    ContactRecord.reported_by_id == person.id,
                )
                .order_by(ContactRecord.date.desc(), ContactRecord.id.desc())
            )
        )

    def record(
        self, head: Person, leader_ref: Any, kind: str, day_text: str, place: str, content: str
    ) -> ContactRecord:
        leaders = {p.id: p for p in self.leaders_for(head)}
        leader = leaders.get(row_id(leader_ref) or 0)
        problems: list[str] = []
        if leader is None:
            problems.append(N_("Contact leader: choose your college's contact leader."))
        if kind not in REPORT_KINDS:
            problems.append(N_("Kind: a work report or a consultation."))
        try:
            day = dt.date.fromisoformat((day_text or "").strip())
        except ValueError:
            day = None
            problems.append(N_("Date: enter a date (YYYY-MM-DD)."))
        if day is not None and day > self.records.today():
            problems.append(N_("Date: the report has not happened yet."))
        content = (content or "").strip()
        if not content:
            problems.append(N_("Content: what was reported or asked."))
        elif len(content) > TEXT_FIELDS["content"]:
            problems.append(N_("Content: this text is too long."))
        if problems or leader is None or day is None or head.unit is None:
            raise ValidationFailed("The report cannot be stored.", details=problems)
        record = ContactRecord(
            institution_id=self.institution_id,
            author_id=leader.id,
            kind=kind,
            date=day,
            target_kind=TargetKind.COLLEGE,
            unit_id=head.unit_id,
            place=(place or "").strip()[:200],
            content=content,
            reported_by_id=head.id,
            status=ContactStatus.SUBMITTED,
            submitted_at=utcnow(),
        )
        record.members.append(
            ContactMember(institution_id=self.institution_id, person_id=leader.id, role="author")
        )
        self.session.add(record)
        self.session.flush()
        self.records._link_point(record)  # noqa: SLF001 - the same rule as the leader's own records
        self.session.flush()
        logger.info(
            "unit report recorded: institution=%s actor=%s leader=%s kind=%s",
            self.institution_id,
            head.employee_no,
            leader.employee_no,
            kind,
        )
        return record


class BranchConfirmationService:
    """C-3c: the branch secretary (or the school office from paper evidence) confirms a leader's attendance
    of a branch activity; only a confirmed activity counts."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    def _pending(self) -> Select[ContactRecord]:
        return (
            select(ContactRecord)
            .where(
                ContactRecord.institution_id == self.institution_id,
                ContactRecord.kind == ContactKind.BRANCH_ACTIVITY,
                ContactRecord.status == ContactStatus.SUBMITTED,
                ContactRecord.branch_confirmation == BranchConfirmation.PENDING,
                ContactRecord.confirmed_on_paper.is_(False),
            )
            .options(selectinload(ContactRecord.unit), selectinload(ContactRecord.members))
            .order_by(ContactRecord.date, ContactRecord.id)
        )

    def secretaries_of(self, branch_id: int, today: dt.date) -> list[int]:
        """The branch's secretaries today: its members holding a position the policy names (C-3c)."""
        positions = self.policy.contact.branch_secretary_positions
        if not positions:
            return []
        return list(
            self.session.scalars(
                select(Person.id)
                .join(PositionHolding, PositionHolding.person_id == Person.id)
                .where(
                    Person.institution_id == self.institution_id,
                    Person.branch_id == branch_id,
                    PositionHolding.position_code.in_(positions),
                    or_(PositionHolding.start_date.is_(None), PositionHolding.start_date <= today),
                    or_(PositionHolding.end_date.is_(None), PositionHolding.end_date >= today),
                )
                .distinct()
            )
        )

    def secretary_branch(self, person: Person) -> Unit | None:
        """The branch a secretary confirms for: their own branch (docs: CONTACTS design, C-3c)."""
        if person.branch_id is None:
            return None
        branch = self.session.get(Unit, person.branch_id)
        return branch if branch is not None and branch.kind == UnitKind.PARTY_BRANCH else None

    def waiting_for(self, secretary: Person) -> list[ContactRecord]:
        branch = self.secretary_branch(secretary)
        if branch is None:
            return []
        return list(self.session.scalars(self._pending().where(ContactRecord.unit_id == branch.id)))

    def decided_by_branch(self, secretary: Person, limit: int = 50) -> list[ContactRecord]:
        branch = self.secretary_branch(secretary)
        if branch is None:
            return []
        return list(
            self.session.scalars(
                select(ContactRecord)
                .where(
                    ContactRecord.institution_id == self.institution_id,
                    ContactRecord.kind == ContactKind.BRANCH_ACTIVITY,
                    ContactRecord.unit_id == branch.id,
                    or_(
                        ContactRecord.branch_confirmation != BranchConfirmation.PENDING,
                        ContactRecord.confirmed_on_paper.is_(True),
                    ),
                )
                .order_by(ContactRecord.date.desc())
                .limit(limit)
            )
        )

    def all_waiting(self) -> list[ContactRecord]:
        return list(self.session.scalars(self._pending()))

    def _record(self, record_id: int) -> ContactRecord:
        record = get_scoped(self.session, ContactRecord, record_id, self.institution_id)
        if (
            record is None
            or record.kind != ContactKind.BRANCH_ACTIVITY
            or record.status != ContactStatus.SUBMITTED
        ):
            raise NotFound("No branch activity %(id)s waiting for confirmation.", id=record_id)
        return record

    def decide(self, secretary: Person, record_id: int, confirm: bool) -> ContactRecord:
        record = self._record(record_id)
        branch = self.secretary_branch(secretary)
        if branch is None or record.unit_id != branch.id:
            raise NotFound("No branch activity %(id)s waiting for confirmation.", id=record_id)
        if record.branch_confirmation != BranchConfirmation.PENDING or record.confirmed_on_paper:
            raise Conflict("This activity has already been decided.")
        record.branch_confirmation = BranchConfirmation.CONFIRMED if confirm else BranchConfirmation.DECLINED
        record.branch_confirmed_by_id = secretary.id
        record.branch_confirmed_at = utcnow()
        self.session.flush()
        logger.info(
            "branch activity %s: institution=%s actor=%s record=%s",
            "confirmed" if confirm else "declined",
            self.institution_id,
            secretary.employee_no,
            record.id,
        )
        return record

    def confirm_on_paper(self, office_person_id: int | None, record_id: int) -> ContactRecord:
        """The school office saw the branch's 工作手册 or minutes: the attendance counts (C-3c)."""
        record = self._record(record_id)
        if record.branch_confirmation == BranchConfirmation.CONFIRMED or record.confirmed_on_paper:
            raise Conflict("This activity has already been confirmed.")
        record.confirmed_on_paper = True
        record.branch_confirmed_by_id = office_person_id
        record.branch_confirmed_at = utcnow()
        self.session.flush()
        logger.info(
            "branch activity confirmed on paper: institution=%s actor=%s record=%s",
            self.institution_id,
            office_person_id,
            record.id,
        )
        return record


class ContactOfficeService:
    """The school office's view of the records: every record of the year, filtered by person and kind."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def records(
        self, start: dt.date, end: dt.date, *, person: str = "", kind: str = "", limit: int = 500
    ) -> list[ContactRecord]:
        stmt = (
            select(ContactRecord)
            .where(
                ContactRecord.institution_id == self.institution_id,
                ContactRecord.status == ContactStatus.SUBMITTED,
                ContactRecord.date >= start,
                ContactRecord.date <= end,
            )
            .options(
                selectinload(ContactRecord.unit),
                selectinload(ContactRecord.student_class),
                selectinload(ContactRecord.members),
            )
            .order_by(ContactRecord.date.desc(), ContactRecord.id.desc())
            .limit(limit)
        )
        if kind:
            stmt = stmt.where(ContactRecord.kind == kind)
        text = person.strip()
        if text:
            like = f"%{text}%"
            stmt = stmt.where(
                ContactRecord.id.in_(
                    select(ContactMember.record_id)
                    .join(Person, Person.id == ContactMember.person_id)
                    .where(or_(Person.name.like(like), Person.employee_no.like(like)))
                )
            )
        return list(self.session.scalars(stmt))

    def record(self, record_id: int) -> ContactRecord:
        record = get_scoped(self.session, ContactRecord, record_id, self.institution_id)
        if record is None or record.status != ContactStatus.SUBMITTED:
            raise NotFound("No contact record %(id)s.", id=record_id)
        return record
