"""Closing a semester (O-14: records are archived with the quality center at semester end).

Closing sets the semester ``archived`` (the observation service then refuses every change to its
records), and queues the final statistics snapshot and execution report as *frozen* runs of a new
archive version. Reopening needs a reason and is audited; closing again produces version n+1 and keeps
every earlier version downloadable unchanged (frozen runs are never replaced).

Closing is deliberate (issue 11 §3): ``preview`` says whether the semester's last teaching day is still
ahead and lists the drafts nobody submitted (they never count once locked); when either is the case,
``close`` needs the semester's code typed as the confirmation.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool import acting, clock
from lti_tool.db import get_scoped
from lti_tool.errors import Conflict, Detail, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.observations.models import Observation, ObservationStatus
from lti_tool.reports.models import ReportRun
from lti_tool.reports.services import ReportKind
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, Semester, SemesterEvent, SemesterStatus

log = logging.getLogger(__name__)

FROZEN_KINDS = (ReportKind.STATISTICS, ReportKind.EXECUTION_REPORT)


@dataclass
class ArchiveVersion:
    version: int
    closed: SemesterEvent
    runs: list[ReportRun]


@dataclass
class ClosePreview:
    """What closing a semester now would mean."""

    semester: Semester
    today: dt.date
    last_day: dt.date
    """The last day with a class in the timetable (the semester's last day when it has none)."""
    week: int
    """The teaching week today falls in (0 before the semester starts)."""
    drafts: list[Observation]
    """Records started but never submitted: once the semester is closed they stay drafts for good."""
    submitted: int

    @property
    def early(self) -> bool:
        """Today is on or before the last teaching day: classes (and records of them) are still to come."""
        return self.today <= self.last_day

    @property
    def needs_code(self) -> bool:
        """Closing early or with open drafts needs the semester's code typed as the confirmation."""
        return self.early or bool(self.drafts)


class ArchiveService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def semester(self, semester_id: int) -> Semester:
        semester = get_scoped(self.session, Semester, semester_id, self.institution_id)
        if semester is None:
            raise NotFound("No such semester.")
        return semester

    def today(self) -> dt.date:
        """The college's date today (its time zone, never the server's)."""
        return clock.today(self.session.get(Institution, self.institution_id))

    def preview(self, semester_id: int, today: dt.date | None = None) -> ClosePreview:
        semester = self.semester(semester_id)
        today = today or self.today()
        base = (
            select(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .where(Observation.institution_id == self.institution_id, Observation.semester_id == semester_id)
        )
        drafts = list(
            self.session.scalars(
                base.where(Observation.status == ObservationStatus.DRAFT).order_by(
                    ClassSession.date, Observation.id
                )
            )
        )
        submitted = self.session.scalar(
            select(func.count()).select_from(
                base.where(Observation.status == ObservationStatus.SUBMITTED).subquery()
            )
        )
        last_class = self.session.scalar(
            select(func.max(ClassSession.date)).where(ClassSession.semester_id == semester_id)
        )
        week = semester.week_of(today) if semester.start_date <= today <= semester.end_date else 0
        last_day = last_class or semester.end_date
        return ClosePreview(semester, today, last_day, week, drafts, int(submitted or 0))

    def close(
        self,
        semester_id: int,
        person_id: int | None,
        note: str = "",
        *,
        confirm: str = "",
        today: dt.date | None = None,
    ) -> list[ReportRun]:
        """Archive the semester; returns the frozen runs to queue (after the caller commits).

        Before its last teaching day, or with drafts still open, ``confirm`` must be the semester's code.
        """
        semester = self.semester(semester_id)
        if semester.status == SemesterStatus.ARCHIVED:
            raise Conflict("The semester %(code)s is already archived.", code=semester.code)
        preview = self.preview(semester_id, today)
        if preview.needs_code and confirm.strip() != semester.code:
            details: list[Detail] = []
            if preview.early:
                early = N_("Its last teaching day is %(day)s; today is in week %(week)s.")
                details.append((early, {"day": preview.last_day.isoformat(), "week": preview.week}))
            if preview.drafts:
                drafts = N_("%(count)s record(s) are still drafts; they will never count.")
                details.append((drafts, {"count": len(preview.drafts)}))
            raise ValidationFailed(
                "To close semester %(code)s now, type its code to confirm.",
                details=details,
                code=semester.code,
            )
        version = self.last_version(semester_id) + 1
        semester.status = SemesterStatus.ARCHIVED
        self.session.add(
            SemesterEvent(
                institution_id=self.institution_id,
                semester_id=semester_id,
                person_id=person_id,
                action="close",
                reason=note.strip(),
                version=version,
            )
        )
        runs = [
            ReportRun(
                institution_id=self.institution_id,
                kind=kind,
                semester_id=semester_id,
                requested_by_id=person_id,
                frozen=True,
                version=version,
            )
            for kind in FROZEN_KINDS
        ]
        self.session.add_all(runs)
        self.session.flush()
        log.info(
            "semester %s of institution %s closed (archive version %s) by %s",
            semester.code, self.institution_id, version, acting.who(),
        )  # fmt: skip
        return runs

    def reopen(self, semester_id: int, person_id: int | None, reason: str) -> None:
        semester = self.semester(semester_id)
        if semester.status != SemesterStatus.ARCHIVED:
            raise Conflict("The semester %(code)s is not archived.", code=semester.code)
        if len(reason.strip()) < 4:
            raise ValidationFailed("Reopening an archived semester needs a reason.")
        semester.status = SemesterStatus.OPEN
        self.session.add(
            SemesterEvent(
                institution_id=self.institution_id,
                semester_id=semester_id,
                person_id=person_id,
                action="reopen",
                reason=reason.strip(),
            )
        )
        self.session.flush()
        log.info(
            "semester %s of institution %s reopened by %s: %s",
            semester.code, self.institution_id, acting.who(), reason.strip(),
        )  # fmt: skip

    def last_version(self, semester_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.max(SemesterEvent.version)).where(
                    SemesterEvent.semester_id == semester_id, SemesterEvent.action == "close"
                )
            )
            or 0
        )

    def events(self, semester_id: int) -> list[SemesterEvent]:
        return list(
            self.session.scalars(
                select(SemesterEvent)
                .where(SemesterEvent.semester_id == semester_id)
                .order_by(SemesterEvent.id)
            )
        )

    def versions(self, semester_id: int) -> list[ArchiveVersion]:
        closes = [e for e in self.events(semester_id) if e.action == "close"]
        runs = list(
            self.session.scalars(
                select(ReportRun)
                .where(ReportRun.semester_id == semester_id, ReportRun.frozen.is_(True))
                .order_by(ReportRun.id)
            )
        )
        return [
            ArchiveVersion(e.version, e, [r for r in runs if r.version == e.version])
            for e in reversed(closes)
        ]

    def semesters(self) -> list[Semester]:
        return list(
            self.session.scalars(
                select(Semester)
                .where(Semester.institution_id == self.institution_id)
                .order_by(Semester.week1_monday.desc())
            )
        )
