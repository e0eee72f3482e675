"""Problems raised in a record or a patrol and the steps of their handling (O-9, O-14)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import ColumnElement, ForeignKey, Integer, LargeBinary, String, Text, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person, Unit


class ProblemStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


OPEN_STATUSES: tuple[str, ...] = (ProblemStatus.NEW.value, ProblemStatus.ACCEPTED.value)
"""A problem is open until it is resolved, confirmed or rejected: the handling list, the statistics and
the report count open and overdue problems by these rules alone."""


def is_overdue(status: str, created_at: dt.datetime, now: dt.datetime, overdue_days: int) -> bool:
    """Still open ``overdue_days`` (the policy's ``problem_overdue_days``) after it was raised."""
    return status in OPEN_STATUSES and (now - created_at).days >= overdue_days


class Problem(InstitutionScoped, Base):
    """A problem raised in a record, a patrol, a contact record or on a reception day, routed to a responsible
    unit (O-9)."""

    __tablename__ = "problem"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int | None] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"))
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrol.id", ondelete="CASCADE"))
    contact_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_record.id", ondelete="CASCADE"), index=True
    )
    """Raised in a contact record of the grassroots-contact system (lti_tool/contacts)."""
    reception_visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("reception_visit.id", ondelete="CASCADE"), index=True
    )
    """The follow-up of a visitor received on a reception day (C-6a, lti_tool/outreach), raised when the
    leader submits the week's record."""
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    room: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ProblemStatus.NEW)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    unit: Mapped[Unit | None] = relationship()
    raised_by: Mapped[Person] = relationship()
    events: Mapped[list[ProblemEvent]] = relationship(
        cascade="all, delete-orphan", order_by="ProblemEvent.at"
    )
    photos: Mapped[list[Photo]] = relationship(viewonly=True, order_by="Photo.id")
    """Its photos (their bytes deferred); shown only to whoever may see the problem."""


class ProblemEvent(Base):
    """One step of a problem's handling: who, when, the new status and what was done (处理情况)."""

    __tablename__ = "problem_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


ReleaseCondition = Callable[[], ColumnElement[bool]]
"""A SQL condition on ``Problem``: true when the problem has reached its unit."""
_RELEASE_CONDITIONS: list[ReleaseCondition] = []


def register_release_condition(fn: ReleaseCondition) -> ReleaseCondition:
    """Decorator for a domain whose problems wait before they reach the unit (observations: until the
    record is submitted), so the problem loop hides them without importing that domain."""
    _RELEASE_CONDITIONS.append(fn)
    return fn


def release_conditions() -> list[ColumnElement[bool]]:
    return [fn() for fn in _RELEASE_CONDITIONS]


def overdue_condition(now: dt.datetime, overdue_days: int) -> ColumnElement[bool]:
    """``is_overdue`` as SQL."""
    return and_(
        Problem.status.in_(OPEN_STATUSES), Problem.created_at <= now - dt.timedelta(days=overdue_days)
    )


class PhotoStage(StrEnum):
    RAISED = "raised"
    """Attached by the person who raised the problem: what they saw."""
    RESOLUTION = "resolution"
    """Attached by the responsible unit: what was done."""


class Photo(InstitutionScoped, Base):
    """A photo of a problem (issue 15 §4), as Tingke re-encoded it: never the phone's original file, so no
    EXIF (GPS, camera, time) is ever kept (lti_tool/problems/photos.py)."""

    __tablename__ = "problem_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(32))
    """``image/jpeg`` or ``image/png`` (a picture with transparency), of ``data``; thumbnails are JPEG."""
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    """The re-encoded image (at most the configured edge), kept in the database so every app host and every
    backup has it; loaded only when served."""
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    """A small JPEG for lists and the execution report."""

    uploaded_by: Mapped[Person | None] = relationship()
