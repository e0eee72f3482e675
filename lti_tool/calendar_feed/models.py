"""The secret of a person's calendar feed, stored as its SHA-256 only (docs/decisions.md P-19)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class CalendarFeed(InstitutionScoped, Base):
    """One person's calendar address. The address carries a secret derived like the download tickets
    and link tokens (an HMAC under the app's secret key, of this row's random ``salt``); the row keeps
    only its SHA-256, so a copy of the database subscribes nobody, and the feed finds the row by that
    digest (a lookup by a hash of what was sent: nothing compares the secret byte by byte). Resetting
    draws a new salt, so the old address finds nothing."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    """Random; the address's secret is the HMAC of it under the app's secret key, so the page can show
    the address again while the database alone (a backup, a dump) reveals nothing that subscribes."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """hex SHA-256 of the secret in the address: the feed finds its row by this digest."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reset_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When the person last replaced the address (the old one stopped working then)."""
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When a calendar last fetched the feed (written at most every few minutes), so the page can say
    the subscription works."""
