"""The tenant: one college. Part of the shell (every layer scopes its rows by it; the clock reads its
time zone), so it lives beside ``db.InstitutionScoped`` rather than in a domain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, UTCDateTime, utcnow


class Institution(Base):
    """A tenant: one college. Every platform and every row of institutional data belongs to one."""

    __tablename__ = "institution"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    """Short code used on the command line (``--institution CODE``)."""
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    """Class sessions are local times; reminders and "now and next" need the college's clock."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
