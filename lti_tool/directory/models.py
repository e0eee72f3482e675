"""Units, people and positions (tenures) of an institution (the tenant itself is lti_tool/tenancy.py).

Positions come from the institution's roster, never from LTI roles: Moodle only says
Instructor/Learner/Administrator. A person can hold several positions, each with its own dates; every
position's rules apply while it is held (docs/policy-rules.md, the positions).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class UnitKind(StrEnum):
    COLLEGE = "college"
    MARXISM_SCHOOL = "marxism_school"
    DEPARTMENT = "department"
    TEACHING_OFFICE = "teaching_office"
    """教研室: belongs to a college (``Unit.parent_id``)."""
    LAB = "lab"
    """实验室 (实训室): belongs to a college."""
    PARTY_BRANCH = "party_branch"
    """党支部: a teacher or student branch of a college (``Unit.branch_kind``)."""


SUB_UNIT_KINDS = frozenset({UnitKind.TEACHING_OFFICE, UnitKind.LAB, UnitKind.PARTY_BRANCH})
"""Kinds that belong to a parent unit (a college) rather than standing alone."""


class BranchKind(StrEnum):
    NONE = ""
    TEACHER = "teacher"
    """教工党支部"""
    STUDENT = "student"
    """学生党支部"""


class UnitFunction(StrEnum):
    """What a unit does inside Tingke beyond being a unit: it decides the staff personas."""

    NONE = ""
    QUALITY_CENTER = "quality_center"
    ORGANIZATION = "organization"
    SCHOOL_OFFICE = "school_office"
    """学校办公室: keeps contact assignments and archives of the grassroots-contact system (附件1 七.1)."""


class Unit(InstitutionScoped, Base):
    """A teaching college, the Marxism School or a functional department."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("institution_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    """A ``UnitKind`` value."""
    function: Mapped[str] = mapped_column(String(32), default="")
    """A ``UnitFunction`` value: the quality center, the organization department and the school office get
    staff personas."""
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    """The college a teaching office, lab or party branch belongs to (``None`` for top-level units)."""
    branch_kind: Mapped[str] = mapped_column(String(16), default="")
    """A ``BranchKind`` value for party branches: teacher or student branch."""

    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id")


class Person(InstitutionScoped, Base):
    """Somebody on the institution's roster, identified by employee number (工号)."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("institution_id", "employee_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    party_member: Mapped[bool] = mapped_column(default=False)
    """政治面貌: a member or probationary member of the CPC (中共党员, 中共预备党员); C-3 applies to them."""
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    """The party branch (a unit of kind ``party_branch``) the person belongs to (所在支部)."""
    wecom_userid: Mapped[str] = mapped_column(String(64), default="")
    """The person's account id (UserID) in the college's 企业微信, for notifications."""
    dingtalk_userid: Mapped[str] = mapped_column(String(64), default="")
    """The person's account id (userid) in the college's 钉钉, for notifications."""

    unit: Mapped[Unit | None] = relationship(lazy="joined", foreign_keys=[unit_id])
    branch: Mapped[Unit | None] = relationship(foreign_keys=[branch_id])
    positions: Mapped[list[PositionHolding]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PositionHolding.start_date"
    )


class PositionHolding(InstitutionScoped, Base):
    """One tenure of one position: ``college_dean`` from 2024-09-01 to (open)."""

    __tablename__ = "position_holding"
    __table_args__ = (UniqueConstraint("person_id", "position_code", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    position_code: Mapped[str] = mapped_column(String(64))
    """A position code of the policy file (``school_leader``, ``college_dean`` …)."""
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    """Open when ``None``; for the Marxism School (O-6) these bound the term of office."""

    person: Mapped[Person] = relationship(back_populates="positions")

    def held_during(self, start: dt.date, end: dt.date) -> bool:
        return (self.start_date is None or self.start_date <= end) and (
            self.end_date is None or self.end_date >= start
        )


class StudentClass(InstitutionScoped, Base):
    """A student class (班级) as the timetable names it in 上课班级, e.g. ``汽车2301``.

    Filled from every timetable import (each class name seen) and by ``tingke import classes``; a class is a
    contact point of a college head (C-2a) or of a school leader (C-4, encouraged).
    """

    __tablename__ = "student_class"
    __table_args__ = (UniqueConstraint("institution_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    """The college the students belong to (学生所属单位), when known."""
    source: Mapped[str] = mapped_column(String(16), default="timetable")
    """``timetable`` or ``import``: where the class was first seen."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit: Mapped[Unit | None] = relationship()


class PlatformUser(InstitutionScoped, Base):
    """Remembers which roster person an LMS user (platform + ``sub``) is, once matched or linked."""

    __tablename__ = "platform_user"
    __table_args__ = (UniqueConstraint("platform_id", "lti_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    lti_user_id: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    sourcedid: Mapped[str] = mapped_column(String(255), default="")
    roles: Mapped[str] = mapped_column(String(2000), default="")
    """Space-separated LTI role URIs of the last launch (for the unmatched-users list)."""
    last_launch_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    linked_by_hand: Mapped[bool] = mapped_column(default=False)

    person: Mapped[Person | None] = relationship()


__all__ = [
    "SUB_UNIT_KINDS",
    "BranchKind",
    "Person",
    "PlatformUser",
    "PositionHolding",
    "StudentClass",
    "Unit",
    "UnitFunction",
    "UnitKind",
]
