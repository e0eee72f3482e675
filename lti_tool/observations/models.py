"""Observation records, their members, ratings and audit trail.

Counting (docs/decisions.md K-1): only submitted records count; a record counts in the semester its session's
date falls in; a group observation counts once for every member who co-signed it (O-12), and a member
who wrote their own record for the same session is still counted once for that session.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person
from lti_tool.problems.models import Problem, register_release_condition
from lti_tool.timetable.models import ClassSession


class ObservationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class MemberRole(StrEnum):
    AUTHOR = "author"
    CO_OBSERVER = "co_observer"


class MemberStatus(StrEnum):
    INVITED = "invited"
    SIGNED = "signed"
    """The author on submission, or a co-observer who co-signed the shared record."""
    OWN_RECORD = "own_record"
    """The co-observer chose to write a record of their own for the session."""
    DECLINED = "declined"


COUNTED_MEMBER_STATUSES: tuple[str, ...] = (MemberStatus.SIGNED.value,)
"""Which memberships count for an observer (docs/decisions.md K-1): the author on submission, or a
co-observer who co-signed; invited and declined ones never do. A co-observer who answered by writing a
record of their own (``own_record``) is counted by that record once it is submitted (its author signs on
submission), never by the group record: while their own record is a draft they have submitted nothing.
The compliance engine, the picker and the statistics read this, never a list of their own."""


class Observation(InstitutionScoped, Base):
    """One observation record (听课记录) of one class session."""

    __tablename__ = "observation"
    __table_args__ = (Index("ix_observation_session_status", "session_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_session.id", ondelete="RESTRICT"), index=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="RESTRICT"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ObservationStatus.DRAFT)
    is_supervision: Mapped[bool] = mapped_column(default=False)
    """Done as teaching supervision (教学督导); counts for O-4."""
    narrative: Mapped[str] = mapped_column(Text, default="")
    strengths: Mapped[str] = mapped_column(Text, default="")
    problems_text: Mapped[str] = mapped_column(Text, default="")
    suggestions: Mapped[str] = mapped_column(Text, default="")
    exchange_teacher_done: Mapped[bool | None] = mapped_column()
    exchange_teacher_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    exchange_teacher_text: Mapped[str] = mapped_column(Text, default="")
    exchange_students_done: Mapped[bool | None] = mapped_column()
    exchange_students_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    exchange_students_text: Mapped[str] = mapped_column(Text, default="")
    arrival_time: Mapped[dt.time | None] = mapped_column(Time)
    arrived_late: Mapped[bool] = mapped_column(default=False)
    expected_count: Mapped[int | None] = mapped_column(Integer)
    present_count: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    """Answers to policy-defined fields beyond the fixed ones."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    draft_version: Mapped[int] = mapped_column(Integer, default=0)
    """Incremented on every autosave so a stale tab cannot overwrite a newer draft."""
    teacher_ack_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    teacher_reply: Mapped[str] = mapped_column(Text, default="")
    teacher_reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    teacher_reply_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    imported: Mapped[bool] = mapped_column(default=False)

    session: Mapped[ClassSession] = relationship(lazy="joined")
    author: Mapped[Person] = relationship(foreign_keys=[author_id], lazy="joined")
    ratings: Mapped[list[ObservationRating]] = relationship(
        cascade="all, delete-orphan", order_by="ObservationRating.position"
    )
    members: Mapped[list[ObservationMember]] = relationship(cascade="all, delete-orphan")


class ObservationRating(Base):
    """A rating and comment for one form dimension (dimensions come from the policy)."""

    __tablename__ = "observation_rating"
    __table_args__ = (UniqueConstraint("observation_id", "dimension"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), index=True)
    dimension: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")


class ObservationMember(InstitutionScoped, Base):
    """A person on an observation: its author or a co-observer of a group observation (O-12)."""

    __tablename__ = "observation_member"
    __table_args__ = (
        UniqueConstraint("observation_id", "person_id"),
        Index("ix_observation_member_person_session", "person_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("class_session.id", ondelete="RESTRICT"))
    """Copied from the observation so counting per (person, session) needs no join."""
    role: Mapped[str] = mapped_column(String(16), default=MemberRole.AUTHOR)
    status: Mapped[str] = mapped_column(String(16), default=MemberStatus.INVITED)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    person: Mapped[Person] = relationship(lazy="joined")


class ObservationAudit(Base):
    """One change to a submitted record: who, when, which field, before and after."""

    __tablename__ = "observation_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    field: Mapped[str] = mapped_column(String(100))
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")


# -- indexes for compliance counting ---------------------------------------------------------------------
# The compliance service (compliance/services.py) reads each person's counted memberships through
# observation_member(person_id, status, session_id, observation_id): the index alone answers that step
# (EXPLAIN QUERY PLAN: "USING COVERING INDEX"), then observation and class_session by primary key. The
# semester's record count walks class_session(institution_id, date) → observation(session_id, status,
# is_supervision), again from the index alone. They are declared here, beside the tables they index
# (policy must not import observations); migration 0004 creates them.
Index("ix_observation_counting", Observation.session_id, Observation.status, Observation.is_supervision)
Index(
    "ix_observation_member_person_counting",
    ObservationMember.person_id,
    ObservationMember.status,
    ObservationMember.session_id,
    ObservationMember.observation_id,
)


@register_release_condition
def _problems_of_submitted_records() -> ColumnElement[bool]:
    """A problem written into a record still being drafted reaches the unit only once the record is
    submitted (the observer may still withdraw it); problems raised elsewhere (patrols) reach it at once."""
    submitted = (
        select(Observation.id)
        .where(Observation.id == Problem.observation_id, Observation.status == ObservationStatus.SUBMITTED)
        .exists()
    )
    return or_(Problem.observation_id.is_(None), submitted)
