"""The audit of policy switches: a running semester moved to a corrected policy version (issue 11 §10)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person
from lti_tool.timetable.models import Semester


class PolicySwitch(InstitutionScoped, Base):
    """Who moved which semester from which policy version to which, when and why, and what the semester's
    compliance was under each (the rows are never edited or deleted; both versions stay stored)."""

    __tablename__ = "policy_switch"

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"), index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("policy_version.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("policy_version.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    standings: Mapped[list] = mapped_column(JSON)
    """The semester's compliance under each version, per duty system and for all duties:
    ``[[system, compliant before, persons before, compliant after, persons after], …]`` (system ``all``
    last); *persons* have a duty, *compliant* meet every one of theirs."""
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person | None] = relationship()
    semester: Mapped[Semester] = relationship()
