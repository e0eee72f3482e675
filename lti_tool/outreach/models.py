"""The school leaders hearing staff and students (附件1 五, 六.2): the division of work (分工), reception days
(C-6a), letters to the school leaders (C-6b) and congress proposals (C-6c).

- ``Portfolio``: who is in charge of which area of work in an academic year; a letter about an area goes to
  that leader (五.2 「按照校领导班子成员工作分工呈报」).
- ``ReceptionDuty`` / ``ReceptionRecord`` / ``ReceptionVisit``: the school office schedules one school leader
  per teaching week (五.1); the leader records the week's reception — each visitor, their matter, opinion and
  the answer — or that nobody came. A visitor's follow-up goes to a unit through the problem loop
  (``Problem.reception_visit_id``). Whether a week is recorded or missing is ``reception_week_state``, read by
  the duty engine (rule kind ``reception_days``), the roster page and the leader's page alike.
- ``FollowUp``: ONE loop for letters and proposals — received → (the leader's instruction, letters only) →
  the handling unit answers → the school office checks → released to the writer or proposer (a proposal then
  asks the proposer's satisfaction; "not satisfied" goes back to the unit once more) → closed. An item is
  never closed without a released answer or a recorded reason. ``Letter`` and ``Proposal`` hold what is their
  own (the writer, anonymity; the congress session, proposer and co-signers) and point at their follow-up.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person, PlatformUser, Unit


# -- division of work ---------------------------------------------------------------------------------------
class Portfolio(InstitutionScoped, Base):
    """One area of work (the policy's ``[contact] work_areas``) and the school leader in charge of it in one
    academic year. One leader per area and year; a leader may hold several areas."""

    __tablename__ = "leader_portfolio"
    __table_args__ = (UniqueConstraint("institution_id", "academic_year", "area"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year: Mapped[str] = mapped_column(String(9))
    area: Mapped[str] = mapped_column(String(32))
    """A work-area code of the policy (``teaching``, ``student_affairs`` …)."""
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    person: Mapped[Person] = relationship(lazy="joined")


# -- reception days (C-6a) ----------------------------------------------------------------------------------
class VisitorIdentity(StrEnum):
    TEACHER = "teacher"
    STUDENT = "student"
    STAFF = "staff"
    RETIREE = "retiree"
    OTHER = "other"


class VisitOutcome(StrEnum):
    """How the leader answered (五.1): adopted a right opinion, explained where it was not, or coordinated
    and solved the difficulty."""

    ADOPTED = "adopted"
    EXPLAINED = "explained"
    SOLVED = "solved"


class ReceptionStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class WeekState(StrEnum):
    RECORDED = "recorded"
    MISSING = "missing"
    """The week has ended and its reception is not recorded."""
    CURRENT = "current"
    """The week is under way (or the day is today): not missing yet."""
    UPCOMING = "upcoming"


def week_bounds(week1_monday: dt.date, week: int) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of teaching week ``week`` (1-based) of a semester."""
    start = week1_monday + dt.timedelta(days=7 * (week - 1))
    return start, start + dt.timedelta(days=6)


def reception_week_state(start: dt.date, end: dt.date, recorded: bool, today: dt.date) -> WeekState:
    """C-6a, the one definition: a scheduled week is recorded once its reception record is submitted, and
    missing once it has ended (``end`` before the college's ``today``) without one."""
    if recorded:
        return WeekState.RECORDED
    if end < today:
        return WeekState.MISSING
    return WeekState.CURRENT if start <= today else WeekState.UPCOMING


class ReceptionDuty(InstitutionScoped, Base):
    """The school leader the school office scheduled for one teaching week of a semester (五.1)."""

    __tablename__ = "reception_duty"
    __table_args__ = (UniqueConstraint("semester_id", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    week: Mapped[int] = mapped_column(Integer)
    """The teaching week (1 … ``Semester.weeks``)."""
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    place: Mapped[str] = mapped_column(String(200), default="")
    """Where visitors are received, when the office says (shown to the leader)."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    person: Mapped[Person] = relationship(lazy="joined")
    record: Mapped[ReceptionRecord | None] = relationship(back_populates="duty", uselist=False)


class ReceptionRecord(InstitutionScoped, Base):
    """The record of one week's reception: its day, place and visitors, or that nobody came."""

    __tablename__ = "reception_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    duty_id: Mapped[int] = mapped_column(
        ForeignKey("reception_duty.id", ondelete="CASCADE"), unique=True, index=True
    )
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    date: Mapped[dt.date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200), default="")
    no_visitors: Mapped[bool] = mapped_column(Boolean, default=False)
    """"No visitors this week" (本周无来访) is a valid record."""
    status: Mapped[str] = mapped_column(String(16), default=ReceptionStatus.DRAFT)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    duty: Mapped[ReceptionDuty] = relationship(back_populates="record")
    recorded_by: Mapped[Person] = relationship()
    visits: Mapped[list[ReceptionVisit]] = relationship(
        cascade="all, delete-orphan", order_by="ReceptionVisit.id", back_populates="record"
    )


class ReceptionVisit(InstitutionScoped, Base):
    """One visitor received: who (name optional), the matter, the opinion or request, and the answer."""

    __tablename__ = "reception_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("reception_record.id", ondelete="CASCADE"), index=True)
    visitor_name: Mapped[str] = mapped_column(String(100), default="")
    identity: Mapped[str] = mapped_column(String(16))
    """A ``VisitorIdentity`` value."""
    visitor_unit: Mapped[str] = mapped_column(String(200), default="")
    matter: Mapped[str] = mapped_column(Text)
    opinion: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))
    """A ``VisitOutcome`` value."""
    follow_up_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    """The unit responsible for the follow-up; a problem is raised for it when the week is submitted."""
    follow_up_category: Mapped[str] = mapped_column(String(32), default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    """What the unit is to do."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    record: Mapped[ReceptionRecord] = relationship(back_populates="visits")
    follow_up_unit: Mapped[Unit | None] = relationship()


# -- the follow-up loop of letters and proposals (C-6b, C-6c) ------------------------------------------------
class FollowUpKind(StrEnum):
    LETTER = "letter"
    PROPOSAL = "proposal"


class FollowUpStatus(StrEnum):
    RECEIVED = "received"
    """Waiting for the school office: screening (a letter) or acceptance (a proposal)."""
    WITH_LEADER = "with_leader"
    """A letter routed to the leader in charge, waiting for the instruction (批示)."""
    WITH_UNIT = "with_unit"
    """Waiting for the handling unit's answer."""
    ANSWERED = "answered"
    """The unit answered; the school office checks the answer."""
    RELEASED = "released"
    """The answer is released to the proposer, who says whether they are satisfied (proposals)."""
    CLOSED = "closed"
    """Closed with a released answer, or with a recorded reason (``outcome``)."""


class FollowUpOutcome(StrEnum):
    """Why a closed item is closed; every value but ``answered`` needs a written reason."""

    ANSWERED = "answered"
    DUPLICATE = "duplicate"
    NOT_FOR_LEADERS = "not_for_leaders"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


HANDLING_STATUSES: tuple[str, ...] = (FollowUpStatus.WITH_LEADER.value, FollowUpStatus.WITH_UNIT.value)
"""Statuses in which the deadline runs: the leader or the unit owes the next step."""


def follow_up_overdue(status: str, deadline: dt.date | None, today: dt.date) -> bool:
    """An item is overdue when its deadline has passed while the leader or the unit still owes a step."""
    return deadline is not None and status in HANDLING_STATUSES and deadline < today


class FollowUp(InstitutionScoped, Base):
    """The state of one letter's or proposal's handling: one state machine for both (outreach/followup.py)."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_inst_status", "institution_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """A ``FollowUpKind`` value."""
    status: Mapped[str] = mapped_column(String(16), default=FollowUpStatus.RECEIVED)
    outcome: Mapped[str] = mapped_column(String(24), default="")
    """A ``FollowUpOutcome`` value once closed."""
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why it was closed without an answer (duplicate, not for the leaders, declined …)."""
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    """The school leader in charge (letters: by the division of work)."""
    area: Mapped[str] = mapped_column(String(32), default="")
    """The work area it was routed by."""
    instruction: Mapped[str] = mapped_column(Text, default="")
    """The leader's instruction (批示)."""
    instructed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    """The handling unit (主办单位), which answers."""
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    overdue_told_for: Mapped[dt.date | None] = mapped_column(Date)
    """The deadline whose overdue notice was sent: claimed by one conditional UPDATE (``FollowUpService.
    announce_overdue``), so two workers never both tell; a new deadline makes the item claimable again."""
    round: Mapped[int] = mapped_column(Integer, default=1)
    """1, or 2 once an unsatisfied proposer sent it back for handling once more."""
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    leader: Mapped[Person | None] = relationship(foreign_keys=[leader_id])
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    helpers: Mapped[list[FollowUpUnit]] = relationship(
        cascade="all, delete-orphan", order_by="FollowUpUnit.id"
    )
    events: Mapped[list[FollowUpEvent]] = relationship(
        cascade="all, delete-orphan", order_by="FollowUpEvent.id"
    )
    letter: Mapped[Letter | None] = relationship(viewonly=True, uselist=False)
    proposal: Mapped[Proposal | None] = relationship(viewonly=True, uselist=False)

    @property
    def title(self) -> str:
        """The letter's subject or the proposal's title."""
        if self.letter is not None:
            return self.letter.subject
        return self.proposal.title if self.proposal is not None else ""


class FollowUpUnit(InstitutionScoped, Base):
    """A unit assisting the handling unit (协办单位): it sees the item, the handling unit answers."""

    __tablename__ = "follow_up_unit"
    __table_args__ = (UniqueConstraint("follow_up_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)

    unit: Mapped[Unit] = relationship(lazy="joined")


class FollowUpEvent(Base):
    """One step of the loop: who, when, which step, the status it led to and what was written."""

    __tablename__ = "follow_up_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    step: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

    person: Mapped[Person | None] = relationship()


class LetterChannel(StrEnum):
    TOOL = "tool"
    """Written in Tingke by a launched person."""
    EMAIL = "email"
    PAPER = "paper"
    OTHER = "other"


class Letter(InstitutionScoped, Base):
    """A letter to the school leaders (C-6b), written in Tingke or registered by the school office.

    When ``anonymous``, the writer (``writer_*``) is kept but shown only to the school office: never to the
    leader or the handling unit.
    """

    __tablename__ = "letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(
        ForeignKey("follow_up.id", ondelete="CASCADE"), unique=True, index=True
    )
    channel: Mapped[str] = mapped_column(String(16), default=LetterChannel.TOOL)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    writer_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    writer_platform_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform_user.id", ondelete="SET NULL"), index=True
    )
    """The LMS user who wrote it in Tingke (a student has no roster entry): how "my letters" finds it."""
    writer_name: Mapped[str] = mapped_column(String(100), default="")
    writer_contact: Mapped[str] = mapped_column(String(200), default="")
    received_on: Mapped[dt.date] = mapped_column(Date)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    """The school-office person who registered a letter received by e-mail or on paper."""
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("letter.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    follow_up: Mapped[FollowUp] = relationship(lazy="joined")
    writer_person: Mapped[Person | None] = relationship(foreign_keys=[writer_person_id])
    writer_platform_user: Mapped[PlatformUser | None] = relationship()


class CongressBody(StrEnum):
    STAFF = "staff"
    """教职工代表大会 (教代会)"""
    STUDENT = "student"
    """学生代表大会 (学代会)"""


class CongressSession(InstitutionScoped, Base):
    """A numbered session of the staff or the student congress (六.2), whose proposals it lists."""

    __tablename__ = "congress_session"
    __table_args__ = (UniqueConstraint("institution_id", "body", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(16))
    """A ``CongressBody`` value."""
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    """e.g. 第五届教职工代表大会第三次会议."""
    held_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASIC = "basic"
    """基本满意"""
    UNSATISFIED = "unsatisfied"


class Proposal(InstitutionScoped, Base):
    """A proposal (提案) of a congress session; its handling is its ``FollowUp`` (C-6c)."""

    __tablename__ = "proposal"
    __table_args__ = (UniqueConstraint("session_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(
        ForeignKey("follow_up.id", ondelete="CASCADE"), unique=True, index=True
    )
    session_id: Mapped[int] = mapped_column(ForeignKey("congress_session.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    """The proposal's number in its session (提案第N号)."""
    proposer_name: Mapped[str] = mapped_column(String(100))
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    """The proposer when on the roster: they read the answer and record their satisfaction in Tingke."""
    cosigners: Mapped[str] = mapped_column(Text, default="")
    """附议人, names separated by 、 or commas."""
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    satisfaction: Mapped[str] = mapped_column(String(16), default="")
    """The proposer's latest answer about the handling (a ``Satisfaction`` value)."""
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    follow_up: Mapped[FollowUp] = relationship(lazy="joined")
    session: Mapped[CongressSession] = relationship()
    proposer: Mapped[Person | None] = relationship(foreign_keys=[proposer_id])


__all__ = [
    "HANDLING_STATUSES",
    "CongressBody",
    "CongressSession",
    "FollowUp",
    "FollowUpEvent",
    "FollowUpKind",
    "FollowUpOutcome",
    "FollowUpStatus",
    "FollowUpUnit",
    "Letter",
    "LetterChannel",
    "Portfolio",
    "Proposal",
    "ReceptionDuty",
    "ReceptionRecord",
    "ReceptionStatus",
    "ReceptionVisit",
    "Satisfaction",
    "VisitOutcome",
    "VisitorIdentity",
    "WeekState",
    "follow_up_overdue",
    "reception_week_state",
    "week_bounds",
]
