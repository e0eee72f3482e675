"""An import handed to the worker: the uploaded file until it is done, then what it did or why not."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool import tenancy  # noqa: F401 - the institution table its rows belong to, for the worker
from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class ImportRun(InstitutionScoped, Base):
    """One upload imported by a worker job: pending → running → succeeded | failed (docs/decisions.md I-4)."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    """The registered importer (``services.register_importer``), e.g. ``people``."""
    filename: Mapped[str] = mapped_column(String(200), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    """0–100 when the run ends; while it runs the job reports progress through Redis (the import's own
    transaction holds the row until it commits)."""
    rows: Mapped[int] = mapped_column(Integer, default=0)
    """Data rows in the file (counted before the job, for a CSV)."""
    error: Mapped[str] = mapped_column(Text, default="")
    """Why nothing was imported: a catalog msgid with ``error_params``, shown in the reader's language."""
    error_params: Mapped[dict] = mapped_column(JSON, default=dict)
    details: Mapped[list] = mapped_column(JSON, default=list)
    """Each problem (row and column), as the importer reported it."""
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    """What was stored: created / updated / unchanged / removed."""
    job_id: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    upload: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The file of a run recorded before migration 0019 (now in ``ImportRunPart`` rows), kept until the
    run ends."""
    stage: Mapped[str] = mapped_column(String(16), default="import")
    """``import`` (one step), ``preview`` (the job works out what the import would change and keeps the
    file) or ``apply`` (a confirmed preview being stored)."""
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    """The importer's choices made on the upload form (e.g. the timetable's ``replace``)."""
    preview: Mapped[dict] = mapped_column(JSON, default=dict)
    """What a preview stage found, for its page (the importer's own JSON) and for the confirmation."""


class ImportRunPart(Base):
    """One piece of a run's file, in upload order: the web request writes the file a piece at a time from
    its spooled upload, so no web worker ever holds a large file (every host's worker reads it from the
    database); the pieces are deleted when the run ends."""

    __tablename__ = "import_run_part"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_run.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
