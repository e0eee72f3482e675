"""Long work leaves a state row: statistics snapshots and report runs (pending → running → done)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
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
    __table_args__ = (
        # A bulletin's number (〔2026〕3号) is claimed by writing it: two workers never get the same one.
        UniqueConstraint("institution_id", "kind", "number_year", "number", name="uq_report_run_number"),
    )

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
    period: Mapped[str] = mapped_column(String(16), default="", server_default="")
    """The year a run covers when it is not one semester's: ``ay:2026-2027`` (an academic year) or
    ``cy:2026`` (a calendar year) — the annual cadre file (``reports/cadre_file.py``)."""
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    """The language of the file's headers (``zh_CN`` | ``en``), the requester's; ``""`` for Chinese-only
    documents."""
    frozen: Mapped[bool] = mapped_column(default=False)
    """Part of an archived semester's final version; never replaced."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    filename: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    """A bulletin: the checkpoint — duties are judged on what was done up to this day (the college's)."""
    issuer: Mapped[str] = mapped_column(String(32), default="")
    """A bulletin: the office that issues it (``quality_center`` | ``school_office``), named on its head."""
    number_year: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)
    """A bulletin's number in its year's series (〔number_year〕number号), claimed once by the worker."""


class BulletinEntry(InstitutionScoped, Base):
    """One line of an issued bulletin (C-7c, O-15): a leader short of one duty at its checkpoint.

    Written with the bulletin's PDF in the commit that marks its run succeeded and never changed after: a
    leader's page lists the bulletins naming them from these rows, with the words as issued."""

    __tablename__ = "bulletin_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("report_run.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(16))
    """``observation`` | ``contact`` (``Rule.system``)."""
    rule_id: Mapped[str] = mapped_column(String(16))
    duty_zh: Mapped[str] = mapped_column(Text)
    duty_en: Mapped[str] = mapped_column(Text)
    """What the duty asks, in words (``Rule.plain``), as the policy said it when the bulletin was issued."""
    required: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    short: Mapped[int] = mapped_column(Integer)
    missing: Mapped[str] = mapped_column(Text, default="")
    """What is still missing, in words (a few items, as the PDF lists them)."""


class StatisticsSnapshot(InstitutionScoped, Base):
    """A semester's computed statistics (JSON of the statistics dataclasses)."""

    __tablename__ = "statistics_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    frozen: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict] = mapped_column(JSON)
