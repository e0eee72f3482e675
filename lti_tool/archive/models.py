"""The audit trail of closing and reopening semesters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person


class SemesterEvent(InstitutionScoped, Base):
    """One close or reopen of a semester: who, when, why, and which archive version it produced."""

    __tablename__ = "semester_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    """``close`` or ``reopen``."""
    reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    """For ``close``: the archive version it froze (1, 2, …)."""
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person | None] = relationship()
