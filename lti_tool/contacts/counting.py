"""Which contact records count, and for whom: the one rule the duty engine, the pages and the reports share.

A submitted record counts once for each of its members (the author and the other leaders of a group
activity, ``ContactMember``), in the semester or year its date falls in. A branch activity counts only once
the branch secretary confirmed the leader's attendance, or the school office did from paper evidence (C-3c:
"记入《党支部工作手册》或会议记录"). Tenure and contact-point dates are applied by the engine
(lti_tool/compliance), which knows the positions; this module knows only the records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from lti_tool.contacts.models import (
    BranchConfirmation,
    ContactKind,
    ContactMember,
    ContactPoint,
    ContactRecord,
    ContactStatus,
)
from lti_tool.directory.models import Unit


@dataclass(frozen=True)
class CountedContact:
    """One (person, record) credit."""

    person_id: int
    record_id: int
    kind: str
    """A ``ContactKind`` value."""
    date: dt.date
    target_kind: str
    unit_id: int | None
    unit_parent_id: int | None
    """The college the target unit belongs to (a teaching office, lab or branch), else ``None``."""
    student_class_id: int | None
    contact_point_id: int | None
    branch_confirmed: bool
    author_id: int


def branch_confirmed_clause():
    """SQL: the record's branch attendance is confirmed (by the secretary or on paper)."""
    return or_(
        ContactRecord.branch_confirmation == BranchConfirmation.CONFIRMED,
        ContactRecord.confirmed_on_paper.is_(True),
    )


def counted_contacts(
    session: Session,
    institution_id: int,
    start: dt.date,
    end: dt.date,
    *,
    person_ids: list[int] | None = None,
    include_unconfirmed: bool = False,
) -> list[CountedContact]:
    """Every credit of a submitted record dated ``start``..``end`` (inclusive), ordered by date.

    Unconfirmed branch activities are left out unless ``include_unconfirmed`` (the duty page shows them
    as "waiting for the branch"); their ``branch_confirmed`` is then ``False``.
    """
    parent = aliased(Unit)
    confirmed = branch_confirmed_clause()
    stmt = (
        select(
            ContactMember.person_id,
            ContactRecord.id,
            ContactRecord.kind,
            ContactRecord.date,
            ContactRecord.target_kind,
            ContactRecord.unit_id,
            parent.parent_id,
            ContactRecord.student_class_id,
            ContactRecord.contact_point_id,
            confirmed,
            ContactRecord.author_id,
        )
        .join(ContactRecord, ContactRecord.id == ContactMember.record_id)
        .outerjoin(parent, parent.id == ContactRecord.unit_id)
        .where(
            ContactRecord.institution_id == institution_id,
            ContactRecord.status == ContactStatus.SUBMITTED,
            ContactRecord.date >= start,
            ContactRecord.date <= end,
        )
        .order_by(ContactRecord.date, ContactRecord.id, ContactMember.person_id)
    )
    if person_ids is not None:
        stmt = stmt.where(ContactMember.person_id.in_(person_ids))
    if not include_unconfirmed:
        stmt = stmt.where(or_(ContactRecord.kind != ContactKind.BRANCH_ACTIVITY, and_(confirmed)))
    return [
        CountedContact(
            person_id=row[0],
            record_id=row[1],
            kind=row[2],
            date=row[3],
            target_kind=row[4],
            unit_id=row[5],
            unit_parent_id=row[6],
            student_class_id=row[7],
            contact_point_id=row[8],
            branch_confirmed=bool(row[9]),
            author_id=row[10],
        )
        for row in session.execute(stmt)
    ]


def contact_points_of_year(
    session: Session, institution_id: int, academic_year: str, person_ids: list[int] | None = None
) -> list[ContactPoint]:
    """Every contact point of the academic year (``2026-2027``), by person and kind."""
    stmt = (
        select(ContactPoint)
        .where(ContactPoint.institution_id == institution_id, ContactPoint.academic_year == academic_year)
        .order_by(ContactPoint.person_id, ContactPoint.kind, ContactPoint.id)
    )
    if person_ids is not None:
        stmt = stmt.where(ContactPoint.person_id.in_(person_ids))
    return list(session.scalars(stmt))
