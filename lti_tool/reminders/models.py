"""A checkpoint is claimed exactly once (unique per semester and week); reminders are its output."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class ReminderCheckpoint(InstitutionScoped, Base):
    """The claim on one checkpoint: the unique key is what keeps two workers from both sending."""

    __tablename__ = "reminder_checkpoint"
    __table_args__ = (UniqueConstraint("semester_id", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"))
    week: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class Reminder(InstitutionScoped, Base):
    """One person's reminder: shown as a banner in the tool and sent by e-mail."""

    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("reminder_checkpoint.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dismissed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
