"""Contact points (联系点) and contact records (联系记录) of the grassroots-contact system.

A *contact point* is what a leader is assigned to contact in one academic year (a college, a teaching office
or lab, a student class, a party branch, a dormitory, a club, a friend); the school office keeps them
(C-1a, C-2a, C-3a). A *contact record* is one activity: a visit (调研指导), a work report heard, a branch
activity attended, a lecture, a symposium … Counting (docs/policy-rules.md, "Grassroots-contact
system"): only submitted records count; a record counts in the semester its date falls in; a group record
counts once for each member (``ContactMember``); a branch activity counts only once the branch confirms the
leader's attendance, or the school office does from paper evidence (C-3c). ``counted_contacts`` in
counting.py is the one place that says which rows count.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person, StudentClass, Unit


class ContactPointKind(StrEnum):
    COLLEGE = "college"
    TEACHING_OFFICE = "teaching_office"
    LAB = "lab"
    STUDENT_CLASS = "student_class"
    PARTY_BRANCH = "party_branch"
    DORMITORY = "dormitory"
    CLUB = "club"
    FRIEND = "friend"


class TargetKind(StrEnum):
    """What a contact record is about: a contact-point kind, or any directory unit (``unit``)."""

    COLLEGE = "college"
    TEACHING_OFFICE = "teaching_office"
    LAB = "lab"
    STUDENT_CLASS = "student_class"
    PARTY_BRANCH = "party_branch"
    DORMITORY = "dormitory"
    CLUB = "club"
    FRIEND = "friend"
    UNIT = "unit"


UNIT_TARGETS = frozenset(
    {TargetKind.COLLEGE, TargetKind.TEACHING_OFFICE, TargetKind.LAB, TargetKind.PARTY_BRANCH, TargetKind.UNIT}
)
"""Target kinds that name a directory unit (``unit_id``)."""
LABEL_TARGETS = frozenset({TargetKind.DORMITORY, TargetKind.CLUB, TargetKind.FRIEND})
"""Target kinds named by free text (``label``): a dormitory, a club, a friend's name."""


class ContactKind(StrEnum):
    VISIT = "visit"
    """调研指导: a research/guidance visit (C-1b, C-2b)."""
    WORK_REPORT = "work_report"
    """听取汇报: the contacted unit reports its work to the leader (C-1c)."""
    CONSULTATION = "consultation"
    """征求意见: the unit asks the leader's opinion before a major decision (C-1c)."""
    BRANCH_ACTIVITY = "branch_activity"
    """支部活动: attending a party branch's activity (C-3a, C-3b); counts once the branch confirms (C-3c)."""
    MEETING = "meeting"
    """会议: 民主生活会, 学年工作总结考评会, 组织生活会 … recorded, not counted (C-3b)."""
    LECTURE = "lecture"
    """思政课/形势政策课 given to students (C-4)."""
    SYMPOSIUM = "symposium"
    """座谈会 with students and staff (C-5)."""
    TALK = "talk"
    """谈心谈话"""
    FRIEND = "friend"
    """联系交友 (四)"""
    RETIREE_BRIEFING = "retiree_briefing"
    """离退休通报"""
    OTHER = "other"


class ContactStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class BranchConfirmation(StrEnum):
    PENDING = ""
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class ContactRole(StrEnum):
    AUTHOR = "author"
    MEMBER = "member"


class ContactPoint(InstitutionScoped, Base):
    """One contact point of one person for one academic year (C-1a, C-2a, C-3a)."""

    __tablename__ = "contact_point"
    __table_args__ = (Index("ix_contact_point_year_person", "institution_id", "academic_year", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    academic_year: Mapped[str] = mapped_column(String(9))
    """``2026-2027`` (lti_tool/academic_year.py)."""
    kind: Mapped[str] = mapped_column(String(32))
    """A ``ContactPointKind`` value."""
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    """For a college, teaching office, lab or party branch."""
    student_class_id: Mapped[int | None] = mapped_column(
        ForeignKey("student_class.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200), default="")
    """The name of a dormitory, a club or the friend."""
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    """Optional dates within the academic year; a record outside them is stored but not counted."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person] = relationship()
    unit: Mapped[Unit | None] = relationship()
    student_class: Mapped[StudentClass | None] = relationship()


class ContactRecord(InstitutionScoped, Base):
    """One contact activity (联系记录), written by its author, possibly on behalf of a group (C-7a)."""

    __tablename__ = "contact_record"
    __table_args__ = (Index("ix_contact_record_inst_date", "institution_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default=ContactKind.VISIT)
    """A ``ContactKind`` value."""
    date: Mapped[dt.date] = mapped_column(Date)
    target_kind: Mapped[str] = mapped_column(String(32), default="")
    """A ``TargetKind`` value ("" while a draft has no target yet)."""
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    student_class_id: Mapped[int | None] = mapped_column(ForeignKey("student_class.id", ondelete="SET NULL"))
    target_label: Mapped[str] = mapped_column(String(200), default="")
    """For a dormitory, a club or a friend: their name."""
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_point.id", ondelete="SET NULL"))
    """The author's contact point this record is about, when it is one."""
    place: Mapped[str] = mapped_column(String(200), default="")
    participants: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text, default="")
    opinions: Mapped[str] = mapped_column(Text, default="")
    """Opinions and suggestions heard (意见建议)."""
    follow_up: Mapped[str] = mapped_column(Text, default="")
    leader_opinion: Mapped[str] = mapped_column(Text, default="")
    """The opinion the contact leader gave on a work report or consultation (C-1c)."""
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    """The unit head who reported or consulted (C-1c, the unit side), when the unit recorded it."""
    status: Mapped[str] = mapped_column(String(16), default=ContactStatus.DRAFT)
    draft_version: Mapped[int] = mapped_column(Integer, default=0)
    """Incremented on every autosave so a stale tab cannot overwrite a newer draft (409)."""
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    branch_confirmation: Mapped[str] = mapped_column(String(16), default=BranchConfirmation.PENDING)
    branch_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    branch_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_on_paper: Mapped[bool] = mapped_column(default=False)
    """The school office confirmed attendance from paper evidence (the branch's 工作手册 or minutes)."""
    imported: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    author: Mapped[Person] = relationship(foreign_keys=[author_id], lazy="joined")
    reported_by: Mapped[Person | None] = relationship(foreign_keys=[reported_by_id])
    unit: Mapped[Unit | None] = relationship()
    student_class: Mapped[StudentClass | None] = relationship()
    contact_point: Mapped[ContactPoint | None] = relationship()
    members: Mapped[list[ContactMember]] = relationship(
        cascade="all, delete-orphan", order_by="ContactMember.id", back_populates="record"
    )

    @property
    def branch_confirmed(self) -> bool:
        """C-3c: the branch (or the school office, from paper evidence) confirmed the attendance."""
        return self.branch_confirmation == BranchConfirmation.CONFIRMED or self.confirmed_on_paper


class ContactMember(InstitutionScoped, Base):
    """A leader credited with a contact record: its author, or another leader of a group activity."""

    __tablename__ = "contact_member"
    __table_args__ = (
        UniqueConstraint("record_id", "person_id"),
        Index("ix_contact_member_person", "person_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("contact_record.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=ContactRole.MEMBER)

    record: Mapped[ContactRecord] = relationship(back_populates="members")
    person: Mapped[Person] = relationship(lazy="joined")
