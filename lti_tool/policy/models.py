"""Stored policy versions: each semester points at the version it is evaluated under."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class PolicyVersion(InstitutionScoped, Base):
    """The text of one uploaded policy file, never edited after it is stored."""

    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("institution_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
