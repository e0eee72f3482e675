"""Which reception weeks are scheduled and recorded (C-6a): the one query the duty engine, the roster page and
the leader's page read, so they cannot disagree. Whether such a week is missing is
``models.reception_week_state``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from lti_tool.outreach.models import ReceptionDuty, ReceptionRecord, ReceptionStatus, week_bounds
from lti_tool.timetable.models import Semester


class ScheduledWeek(NamedTuple):
    person_id: int
    duty_id: int
    semester_id: int
    week: int
    start: dt.date
    end: dt.date
    recorded: bool
    """Its reception record is submitted (a draft does not count)."""
    record_id: int | None


def scheduled_weeks(
    session: Session,
    institution_id: int,
    start: dt.date,
    end: dt.date,
    *,
    person_ids: Sequence[int] | None = None,
    semester_id: int | None = None,
) -> list[ScheduledWeek]:
    """Every reception week scheduled whose Monday falls in [start, end] (of ``person_ids`` when given, of
    one semester when ``semester_id``), in date order."""
    stmt = (
        select(
            ReceptionDuty.person_id,
            ReceptionDuty.id,
            ReceptionDuty.semester_id,
            ReceptionDuty.week,
            Semester.week1_monday,
            ReceptionRecord.id,
            ReceptionRecord.status,
        )
        .join(Semester, Semester.id == ReceptionDuty.semester_id)
        .outerjoin(ReceptionRecord, ReceptionRecord.duty_id == ReceptionDuty.id)
        .where(
            ReceptionDuty.institution_id == institution_id,
            and_(Semester.week1_monday <= end, Semester.institution_id == institution_id),
        )
    )
    if person_ids is not None:
        stmt = stmt.where(ReceptionDuty.person_id.in_(list(person_ids)))
    if semester_id is not None:
        stmt = stmt.where(ReceptionDuty.semester_id == semester_id)
    out = []
    for person_id, duty_id, sem_id, week, monday, record_id, status in session.execute(stmt):
        first, last = week_bounds(monday, week)
        if start <= first <= end:
            out.append(
                ScheduledWeek(
                    person_id,
                    duty_id,
                    sem_id,
                    week,
                    first,
                    last,
                    status == ReceptionStatus.SUBMITTED,
                    record_id,
                )
            )
    return sorted(out, key=lambda w: (w.start, w.person_id))
