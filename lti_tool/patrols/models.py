"""Classroom patrols (巡查, O-9)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person


class Patrol(InstitutionScoped, Base):
    """A classroom patrol (巡查) by a person with patrol duty (O-9)."""

    __tablename__ = "patrol"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    rooms: Mapped[str] = mapped_column(String(1000), default="")
    checked: Mapped[list] = mapped_column(JSON, default=list)
    """Checklist item codes from the policy that were checked."""
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported: Mapped[bool] = mapped_column(default=False)

    person: Mapped[Person] = relationship()
