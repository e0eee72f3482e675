"""Long work leaves a state row: statistics snapshots and report runs (pending → running → done)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReportRun(InstitutionScoped, Base):
    """One request for worker output (statistics, execution report, archive, bulletin)."""

    __tablename__ = "report_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    semester_id: Mapped[int | None] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    """For a personal archive: whose archive it is."""
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.PENDING)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    """0–100, written by the job as it goes; the page polls it."""
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str] = mapped_column(String(100), default="")
    frozen: Mapped[bool] = mapped_column(default=False)
    """Part of an archived semester's final version; never replaced."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    filename: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[bytes | None] = mapped_column(LargeBinary)


class StatisticsSnapshot(InstitutionScoped, Base):
    """A semester's computed statistics (JSON of the statistics dataclasses)."""

    __tablename__ = "statistics_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    frozen: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict] = mapped_column(JSON)
