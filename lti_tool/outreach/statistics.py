"""The figures of reception days (C-6a), letters (C-6b) and proposals (C-6c) for one semester: the contact
report's sections 十、十一、十二 (reports/contacts.py), stored in the semester's statistics snapshot
(reports/statistics.py) so that an archived semester's report shows the same numbers however the live data
changes afterwards.

Everything here is plain data (ints, strings, tuples of frozen dataclasses; dates as ISO strings): it goes
to JSON and back (``SemesterStatistics.from_dict``). Names of people, units and work areas are stored as
text for the same reason. The choices (docs/decisions.md P-17):

- **Period.** Reception weeks: the semester's roster. Letters: received from the day after the previous
  semester ends (the vacation before the semester belongs to it) to the semester's last day; the first
  semester of an institution starts at its own first day. Proposals: those of congress sessions held in
  that same period.
- **On time.** An item whose answer stands (given, not sent back) is on time when the unit's latest answer
  came on or before its deadline (the college's date), late otherwise; an item whose deadline has passed
  while the leader or the unit owes a step is overdue (``models.follow_up_overdue``, as of the day computed),
  a proposal sent back for a second round included.
  On-time share = on time / (on time + late + overdue); overdue share = the rest. Items not yet due and
  items closed at screening are in neither.
- **Typical matters.** The most frequent categories, counted: letters by the work area they were routed by
  (the division of work, P-15); proposals by their handling unit (主办单位); reception visits by the
  follow-up's problem category where one was raised, else by the visitor's identity. The five largest are
  shown, with the items themselves listed below.
- **Anonymity.** No writer of a letter is stored here at all (anonymous or not): the report never names one.
  Reception visitors are not named either; a proposal's proposer is (proposals are public to the congress).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool import clock
from lti_tool.directory.models import Person, Unit
from lti_tool.outreach.counting import scheduled_weeks
from lti_tool.outreach.models import (
    HANDLING_STATUSES,
    CongressSession,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Letter,
    Proposal,
    ReceptionDuty,
    ReceptionRecord,
    ReceptionStatus,
    ReceptionVisit,
    WeekState,
    follow_up_overdue,
    reception_week_state,
)
from lti_tool.policy.schema import Policy
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester

TYPICAL = 5
"""How many categories the typical matters show."""
LISTED = 30
"""At most this many items are listed per section (the counts cover all)."""
EXCERPT = 60


def _excerpt(text: str, n: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class NamedCount:
    name: str
    count: int


@dataclass(frozen=True)
class LeaderWeeks:
    name: str
    scheduled: int
    recorded: int
    missing: int
    not_due: int
    visits: int


@dataclass(frozen=True)
class VisitRow:
    date: str
    leader: str
    identity: str
    """A ``VisitorIdentity`` code."""
    matter: str
    outcome: str
    """A ``VisitOutcome`` code."""
    follow_up_unit: str


@dataclass(frozen=True)
class ReceptionFigures:
    weeks_scheduled: int
    weeks_recorded: int
    weeks_missing: int
    weeks_not_due: int
    weeks_without_visitors: int
    visits: int
    follow_ups: int
    """Visits whose follow-up went to a unit (a problem of the problem loop)."""
    by_leader: tuple[LeaderWeeks, ...]
    by_identity: tuple[NamedCount, ...]
    """Identity codes and their counts."""
    by_outcome: tuple[NamedCount, ...]
    """Outcome codes (adopted / explained / solved) and their counts: how the leaders answered."""
    typical: tuple[NamedCount, ...]
    listed: tuple[VisitRow, ...]

    @property
    def recorded_share(self) -> float | None:
        """Weeks recorded / weeks owed (recorded or missing)."""
        return _share(self.weeks_recorded, self.weeks_recorded + self.weeks_missing)


@dataclass(frozen=True)
class OwnerRow:
    """A leader in charge (letters) or a handling unit (proposals)."""

    name: str
    items: int
    answered: int
    on_time: int
    overdue: int
    """Answered late, or past the deadline without an answer."""


@dataclass(frozen=True)
class ItemRow:
    date: str
    """Letters: received on; proposals: the congress session's date."""
    number: str
    """Proposals: 第N号 in its session; letters: empty."""
    title: str
    category: str
    """Letters: the work area; proposals: the handling unit."""
    owner: str
    """Letters: the leader in charge; proposals: the proposer."""
    status: str
    """A ``FollowUpStatus`` code."""
    outcome: str
    """A ``FollowUpOutcome`` code once closed, else empty."""
    timeliness: str
    """``on_time`` | ``late`` | ``overdue`` | ``""`` (not yet due, or closed at screening)."""
    handling: str
    """The released answer or the closing reason, shortened."""


@dataclass(frozen=True)
class FollowUpFigures:
    kind: str
    total: int
    by_status: tuple[NamedCount, ...]
    """Status codes (every state, in the loop's order) and their counts."""
    by_outcome: tuple[NamedCount, ...]
    """Outcome codes of the closed items."""
    answered: int
    on_time: int
    late: int
    overdue_open: int
    not_due: int
    anonymous: int
    second_round: int
    satisfaction: tuple[NamedCount, ...]
    """Proposals: satisfied / basic / unsatisfied and their counts."""
    by_owner: tuple[OwnerRow, ...]
    typical: tuple[NamedCount, ...]
    listed: tuple[ItemRow, ...]

    @property
    def decided(self) -> int:
        return self.on_time + self.late + self.overdue_open

    @property
    def on_time_share(self) -> float | None:
        return _share(self.on_time, self.decided)

    @property
    def overdue_share(self) -> float | None:
        return _share(self.late + self.overdue_open, self.decided)


@dataclass(frozen=True)
class OutreachStatistics:
    start: str
    end: str
    as_of: str
    reception: ReceptionFigures
    letters: FollowUpFigures
    proposals: FollowUpFigures


STATUS_ORDER = tuple(s.value for s in FollowUpStatus)


class OutreachStatisticsService:
    """Computes ``OutreachStatistics`` of one semester for one institution."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.institution = session.get(Institution, institution_id)

    def period(self, semester: Semester) -> tuple[dt.date, dt.date]:
        """From the day after the previous semester's end (else the semester's start) to its end."""
        previous = self.session.scalars(
            select(Semester)
            .where(
                Semester.institution_id == self.institution_id,
                Semester.week1_monday < semester.week1_monday,
            )
            .order_by(Semester.week1_monday.desc())
            .limit(1)
        ).first()
        start = previous.end_date + dt.timedelta(days=1) if previous is not None else semester.start_date
        return min(start, semester.start_date), semester.end_date

    def compute(self, semester: Semester, today: dt.date | None = None) -> OutreachStatistics:
        if semester.institution_id != self.institution_id:
            raise ValueError("semester of another institution")
        today = today or clock.today(self.institution)
        start, end = self.period(semester)
        return OutreachStatistics(
            start=start.isoformat(),
            end=end.isoformat(),
            as_of=today.isoformat(),
            reception=self.reception(semester, today),
            letters=self.letters(start, end, today),
            proposals=self.proposals(start, end, today),
        )

    # -- names --------------------------------------------------------------------------------------------
    def _people(self) -> dict[int, str]:
        return dict(
            self.session.execute(
                select(Person.id, Person.name).where(Person.institution_id == self.institution_id)
            ).all()
        )

    def _units(self) -> dict[int, str]:
        return dict(
            self.session.execute(
                select(Unit.id, Unit.name).where(Unit.institution_id == self.institution_id)
            ).all()
        )

    # -- reception days -----------------------------------------------------------------------------------
    def reception(self, semester: Semester, today: dt.date) -> ReceptionFigures:
        names, units = self._people(), self._units()
        weeks = scheduled_weeks(
            self.session,
            self.institution_id,
            semester.week1_monday,
            dt.date.max,
            semester_id=semester.id,
        )
        states = [(w, reception_week_state(w.start, w.end, w.recorded, today)) for w in weeks]
        records = list(
            self.session.scalars(
                select(ReceptionRecord)
                .join(ReceptionDuty, ReceptionDuty.id == ReceptionRecord.duty_id)
                .where(
                    ReceptionRecord.institution_id == self.institution_id,
                    ReceptionDuty.semester_id == semester.id,
                    ReceptionRecord.status == ReceptionStatus.SUBMITTED,
                )
                .options(selectinload(ReceptionRecord.visits), selectinload(ReceptionRecord.duty))
                .order_by(ReceptionRecord.date, ReceptionRecord.id)
            )
        )
        visits: list[tuple[ReceptionRecord, ReceptionVisit]] = [(r, v) for r in records for v in r.visits]
        categories = {c.code: c.display("zh_CN") for c in self.policy.problem_categories}
        identity_words = {
            "teacher": "教师来访",
            "student": "学生来访",
            "staff": "职工来访",
            "retiree": "离退休人员来访",
            "other": "其他来访",
        }
        typical = Counter(
            categories.get(v.follow_up_category, v.follow_up_category)
            if v.follow_up_unit_id is not None and v.follow_up_category
            else identity_words.get(v.identity, v.identity)
            for _, v in visits
        )
        per_leader: dict[int, list[int]] = {}
        for w, state in states:
            row = per_leader.setdefault(w.person_id, [0, 0, 0, 0, 0])
            row[0] += 1
            row[1] += state == WeekState.RECORDED
            row[2] += state == WeekState.MISSING
            row[3] += state in (WeekState.CURRENT, WeekState.UPCOMING)
        for rec, _v in visits:
            per_leader.setdefault(rec.duty.person_id, [0, 0, 0, 0, 0])[4] += 1
        listed = sorted(visits, key=lambda rv: (rv[1].follow_up_unit_id is None, rv[0].date, rv[1].id))[
            :LISTED
        ]
        return ReceptionFigures(
            weeks_scheduled=len(states),
            weeks_recorded=sum(1 for _, s in states if s == WeekState.RECORDED),
            weeks_missing=sum(1 for _, s in states if s == WeekState.MISSING),
            weeks_not_due=sum(1 for _, s in states if s in (WeekState.CURRENT, WeekState.UPCOMING)),
            weeks_without_visitors=sum(1 for r in records if r.no_visitors or not r.visits),
            visits=len(visits),
            follow_ups=sum(1 for _, v in visits if v.follow_up_unit_id is not None),
            by_leader=tuple(
                LeaderWeeks(names.get(pid, ""), *row)
                for pid, row in sorted(per_leader.items(), key=lambda kv: (-kv[1][0], names.get(kv[0], "")))
            ),
            by_identity=_counts(Counter(v.identity for _, v in visits)),
            by_outcome=tuple(
                NamedCount(code, n)
                for code in ("adopted", "explained", "solved")
                if (n := sum(1 for _, v in visits if v.outcome == code))
            ),
            typical=_counts(typical, TYPICAL),
            listed=tuple(
                VisitRow(
                    r.date.isoformat(),
                    names.get(r.duty.person_id, ""),
                    v.identity,
                    _excerpt(v.matter),
                    v.outcome,
                    units.get(v.follow_up_unit_id, "") if v.follow_up_unit_id is not None else "",
                )
                for r, v in sorted(listed, key=lambda rv: (rv[0].date, rv[1].id))
            ),
        )

    # -- letters and proposals ----------------------------------------------------------------------------
    def _timeliness(self, fu: FollowUp, today: dt.date) -> str:
        """``overdue`` while the leader or the unit owes a step past the deadline (also a proposal sent
        back for round 2, whose first answer no longer counts); else, once answered, ``on_time`` or
        ``late`` by the answer's date; else ``""``."""
        if fu.status in HANDLING_STATUSES:
            return "overdue" if follow_up_overdue(fu.status, fu.deadline, today) else ""
        if fu.answered_at is not None and fu.deadline is not None:
            answered_on = clock.local(fu.answered_at, self.institution).date()
            return "on_time" if answered_on <= fu.deadline else "late"
        return ""

    @staticmethod
    def _answered(fu: FollowUp) -> bool:
        """An answer stands: given and not sent back to the unit."""
        return fu.answered_at is not None and fu.status not in HANDLING_STATUSES

    def _handling(self, fu: FollowUp) -> str:
        if fu.released_at is not None or (fu.status == FollowUpStatus.CLOSED and fu.outcome == "answered"):
            return _excerpt(fu.answer)
        if fu.status == FollowUpStatus.CLOSED:
            return _excerpt(fu.reason)
        return ""

    def _figures(
        self,
        kind: str,
        items: list[tuple[FollowUp, str, str, str, str, str, bool, str]],
        today: dt.date,
    ) -> FollowUpFigures:
        """``items``: (follow-up, date, number, title, category, owner, anonymous, owner-of-the-row)."""
        timeliness = {fu.id: self._timeliness(fu, today) for fu, *_ in items}
        by_status = Counter(fu.status for fu, *_ in items)
        owners: dict[str, list[int]] = {}
        for fu, *_rest, owner_row in items:
            if not owner_row:
                continue
            row = owners.setdefault(owner_row, [0, 0, 0, 0])
            t = timeliness[fu.id]
            row[0] += 1
            row[1] += self._answered(fu)
            row[2] += t == "on_time"
            row[3] += t in ("late", "overdue")
        return FollowUpFigures(
            kind=kind,
            total=len(items),
            by_status=tuple(NamedCount(s, by_status.get(s, 0)) for s in STATUS_ORDER),
            by_outcome=_counts(Counter(fu.outcome for fu, *_ in items if fu.status == FollowUpStatus.CLOSED)),
            answered=sum(1 for fu, *_ in items if self._answered(fu)),
            on_time=sum(1 for t in timeliness.values() if t == "on_time"),
            late=sum(1 for t in timeliness.values() if t == "late"),
            overdue_open=sum(1 for t in timeliness.values() if t == "overdue"),
            not_due=sum(1 for fu, *_ in items if fu.status in HANDLING_STATUSES and not timeliness[fu.id]),
            anonymous=sum(1 for item in items if item[6]),
            second_round=sum(1 for fu, *_ in items if fu.round > 1),
            satisfaction=(),
            by_owner=tuple(
                OwnerRow(name, *row)
                for name, row in sorted(owners.items(), key=lambda kv: (-kv[1][0], kv[0]))
            ),
            typical=_counts(Counter(item[4] for item in items if item[4]), TYPICAL),
            listed=tuple(
                ItemRow(
                    date,
                    number,
                    _excerpt(title, 40),
                    category,
                    owner,
                    fu.status,
                    fu.outcome if fu.status == FollowUpStatus.CLOSED else "",
                    timeliness[fu.id],
                    self._handling(fu),
                )
                for fu, date, number, title, category, owner, _anon, _row in items[:LISTED]
            ),
        )

    def letters(self, start: dt.date, end: dt.date, today: dt.date) -> FollowUpFigures:
        names = self._people()
        letters = list(
            self.session.scalars(
                select(Letter)
                .join(FollowUp, FollowUp.id == Letter.follow_up_id)
                .where(
                    Letter.institution_id == self.institution_id,
                    FollowUp.kind == FollowUpKind.LETTER,
                    Letter.received_on >= start,
                    Letter.received_on <= end,
                )
                .order_by(Letter.received_on, Letter.id)
            )
        )
        items = []
        for letter in letters:
            fu = letter.follow_up
            area = self.policy.contact.area_label(fu.area) if fu.area else ""
            leader = names.get(fu.leader_id, "") if fu.leader_id is not None else ""
            # the writer is never read here: the report names no writer, anonymous or not (P-16)
            items.append(
                (
                    fu,
                    letter.received_on.isoformat(),
                    "",
                    letter.subject,
                    area,
                    leader,
                    letter.anonymous,
                    leader,
                )
            )
        return self._figures(FollowUpKind.LETTER.value, items, today)

    def proposals(self, start: dt.date, end: dt.date, today: dt.date) -> FollowUpFigures:
        units = self._units()
        rows = self.session.execute(
            select(Proposal, CongressSession.held_on)
            .join(CongressSession, CongressSession.id == Proposal.session_id)
            .where(
                Proposal.institution_id == self.institution_id,
                CongressSession.held_on >= start,
                CongressSession.held_on <= end,
            )
            .order_by(CongressSession.held_on, CongressSession.id, Proposal.number)
        ).all()
        items = []
        for proposal, held_on in rows:
            fu = proposal.follow_up
            unit = units.get(fu.unit_id, "") if fu.unit_id is not None else ""
            items.append(
                (
                    fu,
                    held_on.isoformat(),
                    f"第{proposal.number}号",
                    proposal.title,
                    unit,
                    proposal.proposer_name,
                    False,
                    unit,
                )
            )
        figures = self._figures(FollowUpKind.PROPOSAL.value, items, today)
        satisfaction = Counter(p.satisfaction for p, _ in rows if p.satisfaction)
        return FollowUpFigures(
            **{
                **figures.__dict__,
                "satisfaction": tuple(
                    NamedCount(code, satisfaction[code])
                    for code in ("satisfied", "basic", "unsatisfied")
                    if satisfaction.get(code)
                ),
            }
        )


def _counts(counter: Counter[str], limit: int | None = None) -> tuple[NamedCount, ...]:
    """Largest first, then by name (a stable order for equal counts)."""
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(NamedCount(k, v) for k, v in (ordered[:limit] if limit else ordered))


__all__ = [
    "FollowUpFigures",
    "ItemRow",
    "LeaderWeeks",
    "NamedCount",
    "OutreachStatistics",
    "OutreachStatisticsService",
    "OwnerRow",
    "ReceptionFigures",
    "VisitRow",
]
