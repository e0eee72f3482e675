"""Demo year-end contact summaries (C-7b), so the summary pages, the school office's list, compliance and the
archive show data on first launch.

For the previous academic year every leader with a contact duty has a summary: most submitted on time and
received by the school office, one submitted late, one never written (C-7b short in the previous spring
semester). For the current year a few leaders have drafts and one has already submitted (year-end, 年底),
so the duty page shows every state. The text is drafted from each leader's records by ``SummaryService``,
with a short assessment in the leader's words.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lti_tool.academic_year import academic_year_of, previous_academic_year
from lti_tool.contacts.summaries import ContactSummary, SummaryService, SummaryStatus, summary_deadline
from lti_tool.directory.models import Person, PositionHolding, Unit, UnitFunction
from lti_tool.policy.schema import Policy

REFLECTIONS = (
    "通过联系基层，进一步了解了学院教学运行和学生实习实训的实际困难。下一学年将把调研与解决问题结合起来，"
    "对提出的问题逐项跟踪，按期反馈。",
    "深入课堂、实训室和学生宿舍，听到了许多真实的声音。存在的不足是调研的计划性不够，部分问题跟踪不及时，"
    "下一步将提前制定调研计划，并加强与联系党支部的沟通。",
    "参加党支部活动和座谈会，加深了对青年教师和学生思想状况的了解。今后将更多采取个别谈心的方式，"
    "把联系基层工作做细做实。",
)


def build_summaries(
    session: Session, institution_id: int, policy: Policy, today: dt.date, rng: random.Random
) -> int:
    """Write the demo summaries of the previous and the current academic year; returns how many."""
    start = policy.contact.academic_year_start
    year = academic_year_of(today, start)
    last = previous_academic_year(year)
    session.execute(
        delete(ContactSummary).where(
            ContactSummary.institution_id == institution_id, ContactSummary.academic_year.in_([year, last])
        )
    )
    positions = {p for r in policy.rules if r.kind == "summary_submitted" for p in r.positions}
    leaders = list(
        session.scalars(
            select(Person)
            .join(PositionHolding, PositionHolding.person_id == Person.id)
            .where(
                Person.institution_id == institution_id, PositionHolding.position_code.in_(sorted(positions))
            )
            .order_by(Person.employee_no)
            .distinct()
        )
    )
    office = session.scalars(
        select(Person)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Person.institution_id == institution_id, Unit.function == UnitFunction.SCHOOL_OFFICE)
        .order_by(Person.employee_no)
    ).first()
    service = SummaryService(session, institution_id)
    written = 0
    last_deadline = summary_deadline(policy.contact, last)
    for i, who in enumerate(leaders):
        # the previous year: the last leader never wrote one, the one before submitted a day late
        if i == len(leaders) - 1:
            continue
        late = i == len(leaders) - 2
        submitted = dt.datetime.combine(
            last_deadline + dt.timedelta(days=1 if late else -rng.randint(1, 20)), dt.time(9, 30), dt.UTC
        )
        session.add(_summary(service, who, last, start, rng, submitted, office))
        written += 1
    # the current year: two drafts and one submitted (年底) among the first leaders
    for i, who in enumerate(leaders[:3]):
        submitted_at = (
            dt.datetime.combine(today - dt.timedelta(days=2), dt.time(8, 0), dt.UTC) if i == 0 else None
        )
        session.add(_summary(service, who, year, start, rng, submitted_at, None))
        written += 1
    session.flush()
    return written


def _summary(
    service: SummaryService,
    who: Person,
    year: str,
    start: str,
    rng: random.Random,
    submitted_at: dt.datetime | None,
    office: Person | None,
) -> ContactSummary:
    text = service.draft_text(who.id, year, start)
    row = ContactSummary(
        institution_id=service.institution_id,
        person_id=who.id,
        academic_year=year,
        activities=text["activities"],
        opinions=text["opinions"],
        problems=text["problems"],
        reflection=rng.choice(REFLECTIONS),
        status=SummaryStatus.SUBMITTED.value if submitted_at else SummaryStatus.DRAFT.value,
        version=1,
        submitted_at=submitted_at,
    )
    if submitted_at is not None and office is not None:
        row.received_at = submitted_at + dt.timedelta(days=2)
        row.received_by_id = office.id
    return row
