"""Semesters, the period table, courses, course sections, class sessions and the LMS course mappings.

A timetable row from the academic system (a *section*: course × teachers × classes × weekday × periods ×
weeks) expands into concrete ``ClassSession`` rows with a date and clock times. Observations attach to
sessions, so re-importing a timetable never deletes a session that has observations; a session that
changed or vanished is flagged instead (issue 3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person, Unit
from lti_tool.policy.store import register_version_users


class SemesterStatus(StrEnum):
    OPEN = "open"
    ARCHIVED = "archived"


class SessionStatus(StrEnum):
    ACTIVE = "active"
    CHANGED = "changed"
    """The timetable row behind it changed after observations were attached."""
    VANISHED = "vanished"
    """The timetable row disappeared on re-import; kept because observations reference it."""


class Semester(InstitutionScoped, Base):
    """A teaching semester: ``2026-2027-1`` starting on week 1's Monday, N teaching weeks, holidays."""

    __tablename__ = "semester"
    __table_args__ = (UniqueConstraint("institution_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    week1_monday: Mapped[dt.date] = mapped_column(Date)
    weeks: Mapped[int] = mapped_column(Integer)
    holidays: Mapped[list] = mapped_column(JSON, default=list)
    """ISO dates (``YYYY-MM-DD``) on which no class takes place."""
    status: Mapped[str] = mapped_column(String(16), default=SemesterStatus.OPEN)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
    """The policy this semester is evaluated under; fixed so old reports reproduce exactly."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def start_date(self) -> dt.date:
        return self.week1_monday

    @property
    def end_date(self) -> dt.date:
        return self.week1_monday + dt.timedelta(days=7 * self.weeks - 1)

    def week_of(self, day: dt.date) -> int:
        return (day - self.week1_monday).days // 7 + 1


class Period(InstitutionScoped, Base):
    """One row of the institution's period table (节次 → clock times)."""

    __tablename__ = "period"
    __table_args__ = (UniqueConstraint("institution_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)


class Course(InstitutionScoped, Base):
    """A course of the catalogue (课程), shared by its sections across semesters."""

    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("institution_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64), default="")
    """课程类别 as exported by the academic system; the policy says which kinds are 思政 required."""
    offering_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))

    offering_unit: Mapped[Unit | None] = relationship()


class SectionTeacher(Base):
    __tablename__ = "section_teacher"

    section_id: Mapped[int] = mapped_column(
        ForeignKey("course_section.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)


class CourseSection(InstitutionScoped, Base):
    """One timetable row of one semester (教学班 × weekday × periods × weeks)."""

    __tablename__ = "course_section"
    __table_args__ = (UniqueConstraint("semester_id", "natural_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    natural_key: Mapped[str] = mapped_column(String(500))
    """course_code|classes|weekday|periods|weeks: what makes a row "the same row" on re-import."""
    classes: Mapped[str] = mapped_column(String(1000), default="")
    """上课班级, ";"-separated."""
    student_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    weekday: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    weeks_spec: Mapped[str] = mapped_column(String(200))
    room: Mapped[str] = mapped_column(String(100), default="")
    full_time: Mapped[bool] = mapped_column(default=True)
    """Only courses for full-time students may be observed (O-10)."""
    content_hash: Mapped[str] = mapped_column(String(64), default="")

    course: Mapped[Course] = relationship(lazy="joined")
    teachers: Mapped[list[Person]] = relationship(secondary="section_teacher", order_by=Person.employee_no)
    student_unit: Mapped[Unit | None] = relationship()


class ClassSession(InstitutionScoped, Base):
    """A concrete class meeting: a section on a date, with clock times and a room."""

    __tablename__ = "class_session"
    __table_args__ = (
        UniqueConstraint("section_id", "date", "period_start"),
        Index("ix_class_session_inst_date", "institution_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("course_section.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    week: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.time | None] = mapped_column(Time)
    ends_at: Mapped[dt.time | None] = mapped_column(Time)
    room: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.ACTIVE)

    section: Mapped[CourseSection] = relationship(lazy="joined")

    def ends_local(self, tz: ZoneInfo) -> dt.datetime:
        """When the class is over, in the college's time zone.

        A session without clock times is over at the end of its day (docs/policy-rules.md "What unannounced
        means in the data").
        """
        if self.ends_at is None:
            return dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        return dt.datetime.combine(self.date, self.ends_at, tzinfo=tz)

    def has_ended(self, now: dt.datetime, tz: ZoneInfo) -> bool:
        """Whether the class is over at ``now`` (an aware datetime)."""
        return now >= self.ends_local(tz)

    @classmethod
    def in_timetable(cls) -> ColumnElement[bool]:
        """SQL: the session is still in the timetable. One a re-import flagged ``vanished`` is kept only for
        the records made of it: it cannot be observed, so it makes nobody owed nor counts as teaching (its
        submitted records still count; docs/decisions.md K-1)."""
        return cls.status != SessionStatus.VANISHED.value


class SemesterEvent(InstitutionScoped, Base):
    """One close or reopen of a semester (archive/services.py): who, when, why, and which archive version
    it produced. Beside ``Semester`` because reports read it too (an archived report speaks for its close
    date)."""

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


class CourseContextMapping(InstitutionScoped, Base):
    """A manual mapping of an LMS course (platform context) to a timetable course code, set by the quality
    center on the mapping page (timetable/mapping.py ``CourseMappingService``). The platform row is the lti
    domain's; only its id is kept here."""

    __tablename__ = "course_context_mapping"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    context_title: Mapped[str] = mapped_column(String(500), default="")
    course_code: Mapped[str] = mapped_column(String(64))


@register_version_users
def _semesters_by_policy_version(session: Session, institution_id: int) -> Iterable[tuple[int, str]]:
    """The policy page's "in use by": each semester under the version it is evaluated with."""
    return session.execute(
        select(Semester.policy_version_id, Semester.code)
        .where(Semester.institution_id == institution_id, Semester.policy_version_id.is_not(None))
        .order_by(Semester.week1_monday)
    )


class PendingTimetableImport(InstitutionScoped, Base):
    """An uploaded timetable waiting for its confirmation (issue 11 §2): the file as uploaded, whether it
    replaces the semesters' timetables, and the digest of the changes its preview showed. Confirming applies
    the same file only if it would make exactly those changes; the row expires an hour after the upload."""

    __tablename__ = "pending_timetable_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    replace: Mapped[bool] = mapped_column(default=False)
    digest: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
