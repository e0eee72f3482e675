"""The outbox and log of notifications, the institutions' channels and each person's choices."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class Channel(StrEnum):
    MOODLE = "moodle"
    WECOM = "wecom"
    """企业微信 application messages."""
    DINGTALK = "dingtalk"
    """钉钉 work notifications."""
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its moment (``not_before``), its job, or its next attempt (``next_attempt_at``)."""
    SENT = "sent"
    FAILED = "failed"
    """Every attempt failed; the last error is kept."""
    UNDELIVERABLE = "undeliverable"
    """The channel was switched off, or the person has no address in it, by the time it was due."""


class Notification(InstitutionScoped, Base):
    """One message to one person through one channel: the outbox row and the record of what was sent."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(80), default="")
    """What it is about (``problem:12``): an event sent once per subject is not sent twice."""
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(1000), default="")
    language: Mapped[str] = mapped_column(String(16), default="zh_CN")
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    not_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """Nothing leaves before this instant (O-12: a teacher hears of a record only after the class)."""
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    job_id: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ChannelSetting(InstitutionScoped, Base):
    """One channel of one institution: its public settings, its secret (never shown back) and the access
    token the worker cached for it."""

    __tablename__ = "notification_channel"
    __table_args__ = (UniqueConstraint("institution_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=False)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    """Public settings: base URL, corp id, agent id, app key."""
    secret: Mapped[str] = mapped_column(String(500), default="")
    """The web-service token, corp secret or app secret."""
    access_token: Mapped[str] = mapped_column(String(1000), default="")
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Preference(InstitutionScoped, Base):
    """A person's choice for one event and channel; no row means "yes"."""

    __tablename__ = "notification_preference"
    __table_args__ = (UniqueConstraint("person_id", "event", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
