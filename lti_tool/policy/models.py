"""Stored policy versions: each semester points at the version it is evaluated under."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.observations.models import Observation, ObservationMember


class PolicyVersion(InstitutionScoped, Base):
    """The text of one uploaded policy file, never edited after it is stored."""

    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("institution_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- indexes for compliance counting ---------------------------------------------------------------------
# The compliance service (policy/compliance.py) reads each person's counted memberships through
# observation_member(person_id, status, session_id, observation_id): the index alone answers that step
# (EXPLAIN QUERY PLAN: "USING COVERING INDEX"), then observation and class_session by primary key. The
# semester's record count walks class_session(institution_id, date) → observation(session_id, status,
# is_supervision), again from the index alone. They live here, next to the queries they serve, rather
# than in observations/models.py; migration 0004 creates them.
Index("ix_observation_counting", Observation.session_id, Observation.status, Observation.is_supervision)
Index(
    "ix_observation_member_person_counting",
    ObservationMember.person_id,
    ObservationMember.status,
    ObservationMember.session_id,
    ObservationMember.observation_id,
)
