"""Observation records: drafts, autosave, submission, corrections, group observation, problems, feedback.

The life of a record (O-11 … O-14):

1. ``start``: the observer picked a class session (O-11); they get their draft for it, the same one on
   every device and after a closed tab, because drafts live on the server.
2. ``autosave``: the page sends what changed while the observer types. Every save bumps
   ``draft_version`` with a conditional UPDATE, so a stale tab (an older version) gets 409 instead of
   overwriting newer text.
3. ``submit``: checks everything the policy's form requires and names each missing field; the author
   becomes a signed member of the record (counting reads members, O-12).
4. ``correct``: for ``policy.correction_window_days`` after submission the author may change the record;
   each change is an ``ObservationAudit`` row (who, when, field, before, after).
5. When the semester is archived (O-14) the record is locked: every change is a ``Conflict``.

Group observation (O-12): the author adds co-observers; each co-signs the shared record or writes a
record of their own for the same session. Teachers see only submitted records of sessions they teach,
never drafts and never anything in advance (O-12), with observer names hidden when the policy says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from lti_tool import clock
from lti_tool.db import get_scoped, utcnow
from lti_tool.directory.models import Person
from lti_tool.drafts import RecordIncomplete, SaveResult, bump_draft_version
from lti_tool.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.inputs import row_id
from lti_tool.notifications.events import Event
from lti_tool.notifications.services import NotificationService
from lti_tool.observations.fields import (
    COMMENT_PREFIX,
    FIXED,
    RATING_PREFIX,
    comment_field,
    display_value,
    exchange_time_error,
    missing_fields,
    parse_field,
    rating_field,
)
from lti_tool.observations.models import (
    MemberRole,
    MemberStatus,
    Observation,
    ObservationAudit,
    ObservationMember,
    ObservationRating,
    ObservationStatus,
)
from lti_tool.policy.schema import Policy
from lti_tool.problems.models import Problem, ProblemStatus
from lti_tool.problems.photos import PhotoUpload
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    SectionTeacher,
    Semester,
    SemesterStatus,
    SessionStatus,
)

AUTOSAVE_COALESCE = dt.timedelta(minutes=10)
"""Autosaved corrections of one field by one person within this span form one audit entry (net change)."""


def ended_by(now: dt.datetime, tz: ZoneInfo) -> ColumnElement[bool]:
    """SQL: the class session is over at ``now`` in the college's time (see ``ClassSession.ends_local``)."""
    local = now.astimezone(tz)
    return or_(
        ClassSession.date < local.date(),
        and_(
            ClassSession.date == local.date(),
            ClassSession.ends_at.is_not(None),
            ClassSession.ends_at <= local.time().replace(microsecond=0, tzinfo=None),
        ),
    )


@dataclass
class MyRecords:
    drafts: list[Observation]
    submitted: list[Observation]
    invitations: list[tuple[ObservationMember, Observation]]
    cosigned: list[tuple[ObservationMember, Observation]]
    replies: list[Observation]


@dataclass
class RecordFilter:
    """The quality center's list filters; empty values do not filter."""

    semester_id: int | None = None
    unit_id: int | None = None
    """The course's offering unit (开课单位)."""
    observer: str = ""
    """Name or employee number of the author or a co-observer."""
    teacher: str = ""
    course: str = ""
    """Course code or name."""
    status: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass
class Page:
    items: list[Observation]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class ObservationService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self._tz: ZoneInfo | None = None
        self._semesters: dict[int, Semester] = {}
        """Semesters this service has read, held: the session's identity map keeps only rows something
        references, so each check of a record's semester would otherwise read it again."""

    # -- lookups ------------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        """The institution's clock: class times, arrival and exchange times are local."""
        if self._tz is None:
            inst = self.session.get(Institution, self.institution_id)
            self._tz = clock.zone(inst)
        return self._tz

    def now(self) -> dt.datetime:
        """The current instant (aware). The one place this service reads the clock."""
        return utcnow()

    def class_end(self, class_session: ClassSession) -> dt.datetime:
        """When the class is over, in the college's time."""
        return class_session.ends_local(self.tz)

    def class_ended(self, class_session: ClassSession, now: dt.datetime | None = None) -> bool:
        return class_session.has_ended(now or self.now(), self.tz)

    def _person(self, person_id: int | None) -> Person:
        person = self.session.get(Person, person_id) if person_id is not None else None
        if person is None or person.institution_id != self.institution_id:
            raise NotFound("No such person in the roster.")
        return person

    def _class_session(self, session_id: Any) -> ClassSession:
        sid = row_id(session_id)
        if sid is None:
            raise BadRequest("Choose a class session to observe.")
        row = get_scoped(self.session, ClassSession, sid, self.institution_id)
        if row is None:
            raise NotFound("No class session %(id)s.", id=sid)
        return row

    def get(self, observation_id: int) -> Observation:
        """Any record of this institution (the quality center's view)."""
        obs = get_scoped(self.session, Observation, observation_id, self.institution_id)
        if obs is None:
            raise NotFound("No observation record %(id)s.", id=observation_id)
        return obs

    def get_for_observer(self, person_id: int, observation_id: int) -> Observation:
        """A record its author or one of its co-observers may open; anybody else gets 404."""
        obs = self.get(observation_id)
        if obs.author_id != person_id and self.member(obs, person_id) is None:
            raise NotFound("No observation record %(id)s.", id=observation_id)
        return obs

    def get_for_teacher(self, person_id: int, observation_id: int) -> Observation:
        """A submitted record of a session the person teaches, once the class is over; drafts and records of
        classes not yet ended do not exist for teachers (O-12: teachers are not told in advance)."""
        obs = self.get(observation_id)
        if (
            obs.status != ObservationStatus.SUBMITTED
            or not self.teaches(person_id, obs.session)
            or not self.class_ended(obs.session)
        ):
            raise NotFound("No observation record %(id)s.", id=observation_id)
        return obs

    def teaches(self, person_id: int, class_session: ClassSession) -> bool:
        return bool(
            self.session.scalar(
                select(
                    exists().where(
                        SectionTeacher.section_id == class_session.section_id,
                        SectionTeacher.person_id == person_id,
                    )
                )
            )
        )

    def member(self, obs: Observation, person_id: int) -> ObservationMember | None:
        return next((m for m in obs.members if m.person_id == person_id), None)

    def semester(self, obs: Observation) -> Semester:
        return self._semester(obs.semester_id)

    def _semester(self, semester_id: int) -> Semester:
        sem = self._semesters.get(semester_id)
        if sem is None:
            sem = self.session.get(Semester, semester_id)
            assert sem is not None
            self._semesters[semester_id] = sem
        return sem

    def is_locked(self, obs: Observation) -> bool:
        return self.semester(obs).status == SemesterStatus.ARCHIVED

    def correction_deadline(self, obs: Observation) -> dt.datetime | None:
        if obs.submitted_at is None:
            return None
        return obs.submitted_at + dt.timedelta(days=self.policy.correction_window_days)

    def can_edit(self, obs: Observation, person_id: int, now: dt.datetime | None = None) -> bool:
        """Whether ``person_id`` may change the record now (author; draft or inside the window; unlocked)."""
        try:
            self._check_editable(obs, person_id, now)
        except (Conflict, Forbidden):
            return False
        return True

    def _check_open(self, obs: Observation) -> None:
        sem = self.semester(obs)
        if sem.status == SemesterStatus.ARCHIVED:
            raise Conflict("This record is locked: semester %(code)s has been archived.", code=sem.code)

    @staticmethod
    def require_author(obs: Observation, person_id: int) -> None:
        """Who may change a record is decided before its state is told (403, never a 409 to a co-observer
        who may read it but not change it)."""
        if obs.author_id != person_id:
            raise Forbidden("Only the author may change this record.")

    def _check_editable(self, obs: Observation, person_id: int, now: dt.datetime | None = None) -> None:
        self.require_author(obs, person_id)
        self._check_open(obs)
        if obs.status == ObservationStatus.SUBMITTED:
            deadline = self.correction_deadline(obs)
            if deadline is not None and (now or utcnow()) > deadline:
                raise Conflict(
                    "The correction window (%(days)s days after submission) has closed.",
                    days=self.policy.correction_window_days,
                )

    # -- values -------------------------------------------------------------------------------------
    def values(self, obs: Observation) -> dict[str, Any]:
        """The record as field name → typed value (the form, validation and the audit trail read this)."""
        out: dict[str, Any] = {name: getattr(obs, name) for name in FIXED}
        ratings = {r.dimension: r for r in obs.ratings}
        for dim in self.policy.dimensions:
            r = ratings.get(dim.code)
            out[rating_field(dim.code)] = r.rating if r else None
            out[comment_field(dim.code)] = r.comment if r else ""
        for code, r in ratings.items():  # dimensions the policy has since dropped stay readable
            out.setdefault(rating_field(code), r.rating)
            out.setdefault(comment_field(code), r.comment)
        return out

    def labels(self) -> dict[str, str]:
        from lti_tool.observations.fields import field_label

        names = list(FIXED)
        for dim in self.policy.dimensions:
            names += [rating_field(dim.code), comment_field(dim.code)]
        return {n: field_label(n, self.policy) for n in names}

    def missing(self, obs: Observation) -> dict[str, str]:
        return missing_fields(self.values(obs), self.policy, self.class_end(obs.session))

    def _parse(self, obs: Observation, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        if not isinstance(fields, dict):
            raise BadRequest("The saved data must be an object of field names and values.")
        parsed: dict[str, Any] = {}
        invalid: dict[str, str] = {}
        class_end = self.class_end(obs.session)
        for name, raw in fields.items():
            value, error = parse_field(str(name), raw, self.policy, obs.session.date, self.tz)
            if not error:
                error = exchange_time_error(str(name), value, class_end)
            if error:
                invalid[str(name)] = error
            else:
                parsed[str(name)] = value
        return parsed, invalid

    def _apply(
        self, obs: Observation, parsed: dict[str, Any], *, audit_by: int | None = None, coalesce: bool = False
    ) -> list[str]:
        """Write parsed values; for a submitted record each change becomes an audit entry."""
        before = self.values(obs)
        changed: list[str] = []
        ratings = {r.dimension: r for r in obs.ratings}
        positions = {d.code: i for i, d in enumerate(self.policy.dimensions)}
        for name, value in parsed.items():
            if before.get(name) == value or (before.get(name) in (None, "") and value in (None, "")):
                continue
            changed.append(name)
            if name.startswith((RATING_PREFIX, COMMENT_PREFIX)):
                is_rating = name.startswith(RATING_PREFIX)
                code = name[len(RATING_PREFIX if is_rating else COMMENT_PREFIX) :]
                row = ratings.get(code)
                if row is None:
                    row = ObservationRating(dimension=code, position=positions.get(code, 99), comment="")
                    obs.ratings.append(row)
                    ratings[code] = row
                if is_rating:
                    row.rating = value
                else:
                    row.comment = value or ""
            else:
                setattr(obs, name, value)
            if audit_by is not None:
                self._audit(obs, audit_by, name, before.get(name), value, coalesce=coalesce)
        if "arrival_time" in changed:
            obs.arrived_late = self._is_late(obs)
        return changed

    def _is_late(self, obs: Observation) -> bool:
        """O-12: observers enter before the class starts; an arrival after the start is flagged."""
        start = obs.session.starts_at
        return bool(obs.arrival_time and start and obs.arrival_time > start)

    def _audit(
        self, obs: Observation, person_id: int, name: str, before: Any, after: Any, *, coalesce: bool
    ) -> None:
        before_text = display_value(name, before, self.policy, self.tz)
        after_text = display_value(name, after, self.policy, self.tz)
        if coalesce:
            last = self.session.scalars(
                select(ObservationAudit)
                .where(ObservationAudit.observation_id == obs.id)
                .order_by(ObservationAudit.id.desc())
                .limit(1)
            ).first()
            if (
                last is not None
                and last.field == name
                and last.person_id == person_id
                and utcnow() - last.at < AUTOSAVE_COALESCE
            ):
                last.after, last.at = after_text, utcnow()
                if last.after == last.before:
                    self.session.delete(last)
                return
        self.session.add(
            ObservationAudit(
                observation_id=obs.id,
                person_id=person_id,
                field=name,
                before=before_text,
                after=after_text,
                at=utcnow(),
            )
        )

    # -- the record's life --------------------------------------------------------------------------
    def start(self, observer_id: int, session_id: Any) -> Observation:
        """The observer's record of the session, creating a draft on first use (O-11)."""
        person = self._person(observer_id)
        # Serialise starts by one observer (PostgreSQL; SQLite's BEGIN IMMEDIATE already does) so two
        # clicks from two tabs give one draft.
        self.session.execute(select(Person.id).where(Person.id == person.id).with_for_update())
        class_session = self._class_session(session_id)
        existing = self.session.scalars(
            select(Observation)
            .where(
                Observation.institution_id == self.institution_id,
                Observation.author_id == person.id,
                Observation.session_id == class_session.id,
            )
            .order_by(Observation.id)
        ).first()
        if existing is not None:
            return existing
        if not class_session.section.full_time:
            raise Conflict("Only courses for full-time students can be observed (O-10).")
        if class_session.status == SessionStatus.VANISHED:
            raise Conflict("This class session is no longer in the timetable.")
        semester = self._semester(class_session.semester_id)
        if semester.status == SemesterStatus.ARCHIVED:
            raise Conflict(
                "Semester %(code)s has been archived; no new records can be made.", code=semester.code
            )
        if self.teaches(person.id, class_session):
            raise Conflict("You teach this class; observe someone else's class.")
        obs = Observation(
            institution_id=self.institution_id,
            session_id=class_session.id,
            semester_id=class_session.semester_id,
            author_id=person.id,
            status=ObservationStatus.DRAFT,
            draft_version=0,
            extra={},
        )
        self.session.add(obs)
        self.session.flush()
        # Invited to someone else's record of this session and starting one's own: that is the answer.
        for member in self.session.scalars(
            select(ObservationMember).where(
                ObservationMember.institution_id == self.institution_id,
                ObservationMember.person_id == person.id,
                ObservationMember.session_id == class_session.id,
                ObservationMember.status == MemberStatus.INVITED,
            )
        ):
            member.status = MemberStatus.OWN_RECORD
        return obs

    def autosave(
        self, obs: Observation, person_id: int, fields: dict[str, Any], expected_draft_version: Any
    ) -> SaveResult[Observation]:
        """Store what changed. Unreadable values are reported, not stored, and the rest is kept.

        A submitted record inside its correction window is corrected the same way, but every change is
        audited and a change that would make the record incomplete is refused as a whole (422).
        """
        self._check_editable(obs, person_id)
        parsed, invalid = self._parse(obs, fields)
        if obs.status == ObservationStatus.SUBMITTED:
            self._check_complete_after(obs, parsed, invalid)
        bump_draft_version(self.session, obs, expected_draft_version)
        audit = person_id if obs.status == ObservationStatus.SUBMITTED else None
        saved = self._apply(obs, parsed, audit_by=audit, coalesce=True)
        self.session.flush()
        return SaveResult(obs, saved, invalid)

    def correct(
        self, obs: Observation, person_id: int, fields: dict[str, Any], expected_draft_version: Any = None
    ) -> SaveResult[Observation]:
        """Change a submitted record inside the correction window; every change is audited (O-13)."""
        self._check_editable(obs, person_id)
        if obs.status != ObservationStatus.SUBMITTED:
            raise Conflict("Only a submitted record can be corrected; a draft is simply edited.")
        parsed, invalid = self._parse(obs, fields)
        self._check_complete_after(obs, parsed, invalid)
        expected = obs.draft_version if expected_draft_version is None else expected_draft_version
        bump_draft_version(self.session, obs, expected)
        saved = self._apply(obs, parsed, audit_by=person_id)
        self.session.flush()
        return SaveResult(obs, saved, {})

    def _check_complete_after(
        self, obs: Observation, parsed: dict[str, Any], invalid: dict[str, str]
    ) -> None:
        would_be = self.values(obs) | parsed
        problems = dict(invalid) | missing_fields(would_be, self.policy, self.class_end(obs.session))
        if problems:
            raise RecordIncomplete(problems, self.labels())

    def submit(self, obs: Observation, person_id: int, expected_draft_version: Any = None) -> Observation:
        """Check the whole form (O-13) and submit; the author becomes a signed member (O-12)."""
        self._check_editable(obs, person_id)
        if obs.status == ObservationStatus.SUBMITTED:
            raise Conflict("This record has already been submitted.")
        now = self.now()
        if not self.class_ended(obs.session, now):
            # never submitted before the class is over (docs/policy-rules.md "What unannounced means …")
            raise Conflict(
                "This class ends at %(end)s. The record can be submitted once the class is over; "
                "until then it is kept as a draft.",
                end=self.class_end(obs.session).strftime("%Y-%m-%d %H:%M"),
            )
        missing = self.missing(obs)
        if missing:
            raise RecordIncomplete(missing, self.labels())
        if expected_draft_version is not None:
            bump_draft_version(self.session, obs, expected_draft_version)
        obs.status = ObservationStatus.SUBMITTED
        obs.submitted_at = now
        obs.arrived_late = self._is_late(obs)
        member = self.member(obs, obs.author_id)
        if member is None:
            member = ObservationMember(
                institution_id=self.institution_id,
                person_id=obs.author_id,
                session_id=obs.session_id,
                role=MemberRole.AUTHOR,
            )
            obs.members.append(member)
        member.status, member.signed_at, member.session_id = MemberStatus.SIGNED, now, obs.session_id
        self.session.flush()
        self._announce_submitted(obs)
        return obs

    def _words(self, obs: Observation) -> dict[str, object]:
        return {"course": obs.session.section.course.name, "date": obs.session.date.isoformat()}

    def _announce_submitted(self, obs: Observation) -> None:
        """The teachers hear of the record — never before their class has ended (O-12): the notification
        waits for ``class_end``, the same rule that lets the record be submitted and the teacher read it —
        and the record's problems reach their units."""
        teachers = self.session.scalars(
            select(SectionTeacher.person_id).where(SectionTeacher.section_id == obs.session.section_id)
        )
        NotificationService(self.session, self.institution_id).notify(
            Event.RECORD_AVAILABLE,
            teachers,
            self._words(obs),
            not_before=self.class_end(obs.session),
            ref=f"observation:{obs.id}",
        )
        ProblemService(self.session, self.institution_id, self.policy).announce_routed(self.problems(obs))

    def discard(self, obs: Observation, person_id: int) -> None:
        """Delete one's own draft (never a submitted record)."""
        self._check_editable(obs, person_id)
        if obs.status != ObservationStatus.DRAFT:
            raise Conflict("A submitted record cannot be deleted.")
        self.session.delete(obs)
        self.session.flush()

    def audit_trail(self, obs: Observation) -> list[ObservationAudit]:
        return list(
            self.session.scalars(
                select(ObservationAudit)
                .where(ObservationAudit.observation_id == obs.id)
                .order_by(ObservationAudit.at, ObservationAudit.id)
            )
        )

    def names(self, person_ids: set[int | None]) -> dict[int, str]:
        ids = {i for i in person_ids if i is not None}
        if not ids:
            return {}
        return dict(
            self.session.execute(
                select(Person.id, Person.name).where(
                    Person.institution_id == self.institution_id, Person.id.in_(ids)
                )
            ).all()
        )

    # -- group observation (O-12) -------------------------------------------------------------------
    def add_member(self, obs: Observation, person_id: int, co_observer: Any) -> ObservationMember:
        """The author adds a co-observer by person id or employee number."""
        self._check_editable(obs, person_id)
        other = self._find_person(co_observer)
        if other.id == obs.author_id:
            raise Conflict("You are already the author of this record.")
        if self.member(obs, other.id) is not None:
            raise Conflict("%(name)s is already on this record.", name=other.name)
        if self.teaches(other.id, obs.session):
            raise Conflict("%(name)s teaches this class and cannot observe it.", name=other.name)
        member = ObservationMember(
            institution_id=self.institution_id,
            person_id=other.id,
            session_id=obs.session_id,
            role=MemberRole.CO_OBSERVER,
            status=MemberStatus.INVITED,
        )
        obs.members.append(member)
        self.session.flush()
        NotificationService(self.session, self.institution_id).notify(
            Event.GROUP_INVITED,
            [other.id],
            self._words(obs) | {"author": obs.author.name},
            ref=f"observation:{obs.id}",
        )
        return member

    def remove_member(self, obs: Observation, person_id: int, member_id: int) -> None:
        self._check_editable(obs, person_id)
        member = next(
            (m for m in obs.members if m.id == member_id and m.role == MemberRole.CO_OBSERVER), None
        )
        if member is None:
            raise NotFound("No such co-observer on this record.")
        if member.status == MemberStatus.SIGNED:
            raise Conflict(
                "%(name)s has already co-signed; the record counts for them.", name=member.person.name
            )
        obs.members.remove(member)
        self.session.flush()

    def _find_person(self, ref: Any) -> Person:
        text = str(ref or "").strip()
        if not text:
            raise BadRequest("Choose a person.")
        stmt = select(Person).where(Person.institution_id == self.institution_id)
        person = None
        if (person_id := row_id(text)) is not None:
            person = self.session.scalars(stmt.where(Person.id == person_id)).first()
        if person is None:
            person = self.session.scalars(stmt.where(Person.employee_no == text)).first()
        if person is None:
            raise NotFound("Nobody with employee number %(no)s in the roster.", no=text)
        return person

    def _invited(self, obs: Observation, person_id: int) -> ObservationMember:
        member = self.member(obs, person_id)
        if member is None or member.role != MemberRole.CO_OBSERVER:
            raise NotFound("You are not a co-observer of this record.")
        self._check_open(obs)
        return member

    def cosign(self, obs: Observation, person_id: int) -> ObservationMember:
        """Co-sign the shared record: it then counts for this member as well (O-12)."""
        member = self._invited(obs, person_id)
        if obs.status != ObservationStatus.SUBMITTED:
            raise Conflict(
                "The author has not submitted this record yet; you can co-sign it once it is submitted."
            )
        if member.status == MemberStatus.SIGNED:
            return member
        member.status, member.signed_at, member.session_id = MemberStatus.SIGNED, utcnow(), obs.session_id
        self.session.flush()
        return member

    def write_own(self, obs: Observation, person_id: int) -> Observation:
        """Answer an invitation by writing one's own record of the same session (their own draft)."""
        member = self._invited(obs, person_id)
        if member.status == MemberStatus.SIGNED:
            raise Conflict("You have already co-signed this record.")
        own = self.start(person_id, obs.session_id)
        member.status = MemberStatus.OWN_RECORD
        self.session.flush()
        return own

    def decline(self, obs: Observation, person_id: int) -> ObservationMember:
        member = self._invited(obs, person_id)
        if member.status == MemberStatus.SIGNED:
            raise Conflict("You have already co-signed this record.")
        member.status = MemberStatus.DECLINED
        self.session.flush()
        return member

    # -- problems -----------------------------------------------------------------------------------
    def raise_problem(
        self,
        obs: Observation,
        person_id: int,
        *,
        category: str,
        unit_id: Any,
        room: str = "",
        description: str,
        photos: Sequence[PhotoUpload] = (),
    ) -> Problem:
        """A problem seen in the class, routed to a responsible unit; handled in lti_tool/problems (O-9).
        Photos taken in the class go with it (lti_tool/problems/photos.py)."""
        self._check_editable(obs, person_id)
        item = NewProblem(
            category,
            row_id(unit_id),
            (room or "").strip()[:100] or obs.session.room,
            description or "",
            photos,
        )
        (problem,) = ProblemService(self.session, self.institution_id, self.policy).raise_problems(
            [item], person_id, observation_id=obs.id
        )
        return problem

    def problems(self, obs: Observation) -> list[Problem]:
        return list(
            self.session.scalars(
                select(Problem)
                .where(Problem.institution_id == self.institution_id, Problem.observation_id == obs.id)
                .order_by(Problem.id)
            )
        )

    def withdraw_problem(self, obs: Observation, person_id: int, problem_id: int) -> None:
        """A problem still new (nobody has acted on it) may be withdrawn by its author while editing."""
        self._check_editable(obs, person_id)
        problem = self.session.get(Problem, problem_id)
        if (
            problem is None
            or problem.observation_id != obs.id
            or problem.institution_id != self.institution_id
        ):
            raise NotFound("No such problem on this record.")
        if problem.status != ProblemStatus.NEW:
            raise Conflict("The responsible unit is already handling this problem.")
        self.session.delete(problem)
        self.session.flush()

    # -- teacher feedback (O-12) --------------------------------------------------------------------
    def _submitted_for_teacher(self, person_id: int) -> Select[Any]:
        return (
            select(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .where(
                Observation.institution_id == self.institution_id,
                Observation.status == ObservationStatus.SUBMITTED,
                ended_by(self.now(), self.tz),
                exists().where(
                    SectionTeacher.section_id == ClassSession.section_id,
                    SectionTeacher.person_id == person_id,
                ),
            )
        )

    def teacher_feedback(self, person_id: int, limit: int = 200) -> list[Observation]:
        stmt = self._submitted_for_teacher(person_id)
        return list(
            self.session.scalars(stmt.order_by(ClassSession.date.desc(), Observation.id.desc()).limit(limit))
        )

    def acknowledge(self, obs: Observation, teacher_id: int) -> Observation:
        if (
            obs.status != ObservationStatus.SUBMITTED
            or not self.teaches(teacher_id, obs.session)
            or not self.class_ended(obs.session)
        ):
            raise NotFound("No observation record %(id)s.", id=obs.id)
        self._check_open(obs)
        if obs.teacher_ack_at is None:
            obs.teacher_ack_at = utcnow()
        self.session.flush()
        return obs

    def reply(self, obs: Observation, teacher_id: int, text: str) -> Observation:
        """The teacher's reply (acknowledging as well); the observer sees it in their history."""
        self.acknowledge(obs, teacher_id)
        text = (text or "").strip()
        if not text:
            raise ValidationFailed("Write a reply first.", details=[N_("Reply: write something.")])
        if len(text) > 5000:
            raise ValidationFailed("The reply is too long (at most 5000 characters).")
        obs.teacher_reply, obs.teacher_reply_at, obs.teacher_reply_by_id = text, utcnow(), teacher_id
        self.session.flush()
        NotificationService(self.session, self.institution_id).notify(
            Event.RECORD_REPLIED,
            [obs.author_id],
            self._words(obs) | {"teacher": self._person(teacher_id).name, "reply": text[:300]},
            ref=f"observation:{obs.id}",
        )
        return obs

    def observer_names_for_teacher(self, obs: Observation) -> list[str] | None:
        """Who observed, as a teacher may see it: names, or ``None`` when the policy hides them."""
        if not self.policy.teachers_see_observer_names:
            return None
        names = [obs.author.name]
        names += [
            m.person.name
            for m in obs.members
            if m.role == MemberRole.CO_OBSERVER and m.status == MemberStatus.SIGNED
        ]
        return names

    # -- the observer's own lists -------------------------------------------------------------------
    def my_records(self, person_id: int) -> MyRecords:
        authored = list(
            self.session.scalars(
                select(Observation)
                .join(ClassSession, ClassSession.id == Observation.session_id)
                .where(Observation.institution_id == self.institution_id, Observation.author_id == person_id)
                .order_by(ClassSession.date.desc(), Observation.id.desc())
            )
        )
        memberships = list(
            self.session.execute(
                select(ObservationMember, Observation)
                .join(Observation, Observation.id == ObservationMember.observation_id)
                .join(ClassSession, ClassSession.id == Observation.session_id)
                .where(
                    ObservationMember.institution_id == self.institution_id,
                    ObservationMember.person_id == person_id,
                    ObservationMember.role == MemberRole.CO_OBSERVER,
                )
                .order_by(ClassSession.date.desc())
            ).all()
        )
        return MyRecords(
            drafts=[o for o in authored if o.status == ObservationStatus.DRAFT],
            submitted=[o for o in authored if o.status == ObservationStatus.SUBMITTED],
            invitations=[(m, o) for m, o in memberships if m.status == MemberStatus.INVITED],
            cosigned=[(m, o) for m, o in memberships if m.status == MemberStatus.SIGNED],
            replies=sorted(
                (o for o in authored if o.teacher_reply),
                key=lambda o: o.teacher_reply_at or o.submitted_at or utcnow(),
                reverse=True,
            ),
        )

    # -- the quality center -------------------------------------------------------------------------
    def _filtered(self, f: RecordFilter) -> Select[Any]:
        stmt = (
            select(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .where(Observation.institution_id == self.institution_id)
        )
        if f.semester_id:
            stmt = stmt.where(Observation.semester_id == f.semester_id)
        if f.unit_id:
            stmt = stmt.where(Course.offering_unit_id == f.unit_id)
        if f.status in (ObservationStatus.DRAFT, ObservationStatus.SUBMITTED):
            stmt = stmt.where(Observation.status == f.status)
        if f.date_from:
            stmt = stmt.where(ClassSession.date >= f.date_from)
        if f.date_to:
            stmt = stmt.where(ClassSession.date <= f.date_to)
        if f.course.strip():
            like = f"%{f.course.strip()}%"
            stmt = stmt.where(or_(Course.code.like(like), Course.name.like(like)))
        if f.teacher.strip():
            like = f"%{f.teacher.strip()}%"
            stmt = stmt.where(
                exists().where(
                    SectionTeacher.section_id == CourseSection.id,
                    SectionTeacher.person_id == Person.id,
                    or_(Person.name.like(like), Person.employee_no.like(like)),
                )
            )
        if f.observer.strip():
            like = f"%{f.observer.strip()}%"
            person_match = or_(Person.name.like(like), Person.employee_no.like(like))
            stmt = stmt.where(
                or_(
                    exists().where(Person.id == Observation.author_id, person_match),
                    exists().where(
                        ObservationMember.observation_id == Observation.id,
                        ObservationMember.person_id == Person.id,
                        ObservationMember.status != MemberStatus.DECLINED,
                        person_match,
                    ),
                )
            )
        return stmt

    def search(self, f: RecordFilter, page: int = 1, per_page: int = 50) -> Page:
        stmt = self._filtered(f)
        counted = select(func.count()).select_from(stmt.order_by(None).subquery())
        total = int(self.session.scalar(counted) or 0)
        page = min(max(1, page), max(1, -(-total // per_page)))  # past the end: the last page
        items = list(
            self.session.scalars(
                stmt.order_by(ClassSession.date.desc(), Observation.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        )
        return Page(items, total, page, per_page)

    def all_matching(self, f: RecordFilter) -> list[Observation]:
        """Every matching record with what an export needs loaded in a few queries."""
        stmt = (
            self._filtered(f)
            .order_by(ClassSession.date, ClassSession.period_start, Observation.id)
            .options(
                selectinload(Observation.ratings),
                selectinload(Observation.members),
                selectinload(Observation.session)
                .selectinload(ClassSession.section)
                .selectinload(CourseSection.teachers),
            )
        )
        return list(self.session.scalars(stmt).unique())

    def count(self, status: str | None = None) -> int:
        stmt = (
            select(func.count())
            .select_from(Observation)
            .where(Observation.institution_id == self.institution_id)
        )
        if status:
            stmt = stmt.where(Observation.status == status)
        return int(self.session.scalar(stmt) or 0)

    # -- for other domains --------------------------------------------------------------------------
    def observers_per_session(self, session_ids: list[int]) -> dict[int, int]:
        """How many people are already on each session (authors of any record and co-observers who did
        not decline), for the session picker."""
        if not session_ids:
            return {}
        om = ObservationMember
        authors = select(Observation.session_id.label("sid"), Observation.author_id.label("pid")).where(
            Observation.institution_id == self.institution_id, Observation.session_id.in_(session_ids)
        )
        members = select(om.session_id.label("sid"), om.person_id.label("pid")).where(
            om.institution_id == self.institution_id,
            om.session_id.in_(session_ids),
            om.status != MemberStatus.DECLINED,
        )
        both = authors.union(members).subquery()
        rows = self.session.execute(select(both.c.sid, func.count()).group_by(both.c.sid))
        return {int(sid): int(n) for sid, n in rows}


def session_label_parts(class_session: ClassSession) -> dict[str, Any]:
    """What the record's header shows about its class: course, teachers, classes, room, date, periods."""
    section = class_session.section
    start, end = class_session.period_start, class_session.period_end
    return {
        "course_code": section.course.code,
        "course_name": section.course.name,
        "teachers": section.teachers,
        "classes": section.classes.replace(";", "、"),
        "room": class_session.room or section.room,
        "date": class_session.date,
        "week": class_session.week,
        "periods": f"{start}-{end}" if end != start else str(start),
        "starts_at": class_session.starts_at,
        "ends_at": class_session.ends_at,
        "status": class_session.status,
    }


__all__ = [
    "MyRecords",
    "ObservationService",
    "Page",
    "RecordFilter",
    "ended_by",
    "session_label_parts",
]
