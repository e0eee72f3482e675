"""Closing a semester (O-14: records are archived with the quality center at semester end).

Closing sets the semester ``archived`` (the observation service then refuses every change to its
records), and queues the final statistics snapshot and execution report as *frozen* runs of a new
archive version. Reopening needs a reason and is audited; closing again produces version n+1 and keeps
every earlier version downloadable unchanged (frozen runs are never replaced).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.archive.models import SemesterEvent
from lti_tool.db import get_scoped
from lti_tool.errors import Conflict, NotFound, ValidationFailed
from lti_tool.reports.models import ReportRun
from lti_tool.reports.services import ReportKind
from lti_tool.timetable.models import Semester, SemesterStatus

FROZEN_KINDS = (ReportKind.STATISTICS, ReportKind.EXECUTION_REPORT)


@dataclass
class ArchiveVersion:
    version: int
    closed: SemesterEvent
    runs: list[ReportRun]


class ArchiveService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def semester(self, semester_id: int) -> Semester:
        semester = get_scoped(self.session, Semester, semester_id, self.institution_id)
        if semester is None:
            raise NotFound("No such semester.")
        return semester

    def close(self, semester_id: int, person_id: int | None, note: str = "") -> list[ReportRun]:
        """Archive the semester; returns the frozen runs to queue (after the caller commits)."""
        semester = self.semester(semester_id)
        if semester.status == SemesterStatus.ARCHIVED:
            raise Conflict("The semester %(code)s is already archived.", code=semester.code)
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
