"""Observation records, their members, ratings, audit trail, and problems raised from them.

Counting (docs/decisions.md K-1): only submitted records count; a record counts in the semester its session's
date falls in; a group observation counts once for every member who co-signed it (O-12), and a member
who wrote their own record for the same session is still counted once for that session.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person, Unit
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


class ProblemStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


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


class Problem(InstitutionScoped, Base):
    """A problem raised in a record, a patrol or a contact record, routed to a responsible unit (O-9)."""

    __tablename__ = "problem"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int | None] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"))
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrol.id", ondelete="CASCADE"))
    contact_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_record.id", ondelete="CASCADE"), index=True
    )
    """Raised in a contact record of the grassroots-contact system (lti_tool/contacts)."""
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


class ProblemEvent(Base):
    """One step of a problem's handling: who, when, the new status and what was done (处理情况)."""

    __tablename__ = "problem_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
