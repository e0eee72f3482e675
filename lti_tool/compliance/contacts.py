"""Facts for the grassroots-contact rules (C-1a … C-7b), counted for the one compliance engine.

The compliance service hands every rule of a ``contact_*`` / ``summary_submitted`` kind here with the
holdings of its positions; this module gathers the facts, and ``contact_rules.py``'s pure functions judge.
Counting follows docs/policy-rules.md ("Grassroots-contact system") and issue 9 §4b:

- the period is the semester, or for ``period = "academic_year"`` rules (C-1a, C-2a, C-7b) the academic
  year the semester belongs to (the year of its first Monday, ``lti_tool.academic_year``);
- a person's windows are their tenures of the rule's positions ∩ the period; a record dated outside them
  is stored but not counted, and so is a record outside its contact point's own dates;
- which records count, and for whom, is the contacts domain's one definition
  (``contacts.counting.counted_contacts``): submitted records, once per member; with ``confirmed_only`` a
  branch activity counts only once the branch (or the school office, on paper) confirmed attendance (C-3c);
- ``at`` says where: anywhere; at a college contacted that year (the college itself, a unit under it or
  one of its classes, inside the contact point's dates); at one of the person's own contact points of
  ``point_kinds``; or at a unit of the person's own college, never their own branch with
  ``exclude_own_branch`` (C-3b 交叉联系).

The domain query returns one row per person and counted record (a leader has a handful a semester), for
the people with duties only; contact points are a few rows per person.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.academic_year import academic_year_bounds, academic_year_of, previous_academic_year
from lti_tool.compliance.contact_rules import (
    CONTACT_RULE_FUNCTIONS,
    ContactFacts,
    Point,
    ReceptionWeek,
)
from lti_tool.compliance.rules import Item, RuleResult, Subject, Window, clip, merge
from lti_tool.contacts.counting import CountedContact, counted_contacts
from lti_tool.contacts.models import ContactKind, ContactPoint, ContactPointKind
from lti_tool.contacts.summaries import ContactSummary, SummaryStatus, summary_deadline
from lti_tool.directory.models import Person, StudentClass, Unit
from lti_tool.outreach.counting import scheduled_weeks
from lti_tool.policy.schema import Policy, Rule
from lti_tool.tenancy import Institution
from lti_tool.timetable.semesters import SemesterService

__all__ = ["CONTACT_KINDS", "AcademicYear", "ContactCounting", "academic_year_for", "summary_deadline"]

CONTACT_KINDS = frozenset(CONTACT_RULE_FUNCTIONS)
"""Rule kinds this module counts for."""
BRANCH_ACTIVITY = ContactKind.BRANCH_ACTIVITY.value


class AcademicYear(NamedTuple):
    code: str
    """``2026-2027``"""
    window: Window


def academic_year_for(policy: Policy, week1_monday: dt.date) -> AcademicYear:
    """The academic year a semester belongs to: the year of its first Monday (docs/contacts-design.md)."""
    start = policy.contact.academic_year_start
    code = academic_year_of(week1_monday, start)
    first, last = academic_year_bounds(code, start)
    return AcademicYear(code, Window(first, last))


class _Holding(NamedTuple):
    id: int
    position_code: str
    start_date: dt.date | None
    end_date: dt.date | None


class _PointRow(NamedTuple):
    id: int
    person_id: int
    year: str
    kind: str
    code: str
    label: str
    start: dt.date | None
    end: dt.date | None


def local_day(at: dt.datetime, inst: Institution | None) -> dt.date:
    """The college's date of an instant (submission times are stored in UTC; lti_tool/clock.py)."""
    return clock.local(at, inst).date()


def _code(unit_id: int | None, class_id: int | None, kind: str | None, label: str | None) -> str:
    """A contact target as a code (``unit:12``, ``class:5``, ``label:club:…``): how the rules compare a
    point with last year's and a record with a point; the duty page reads the ids back for its links."""
    if unit_id is not None:
        return f"unit:{unit_id}"
    if class_id is not None:
        return f"class:{class_id}"
    return f"label:{kind}:{label}" if kind else ""


class ContactCounting:
    """Counts the contact rules' facts for one institution; ``evaluate_rule`` returns their results."""

    def __init__(self, session: Session, institution_id: int, *, today: dt.date | None = None) -> None:
        self.session = session
        self.institution_id = institution_id
        self.today = today
        """The day that decides which reception weeks have ended (default: the college's today); an
        evaluation as of an earlier day (a bulletin's checkpoint) passes the day after it."""
        self._points_cache: dict[tuple[str, tuple[int, ...]], dict[int, list[_PointRow]]] = {}
        self._credits_cache: dict[tuple[Window, tuple[int, ...]], list[CountedContact]] = {}

    # -- the entry point ------------------------------------------------------------------------------------
    def evaluate_rule(
        self,
        policy: Policy,
        rule: Rule,
        holdings: Sequence[tuple[Any, Any]],
        semester: Window,
        year: AcademicYear,
    ) -> list[RuleResult]:
        """Each holder's windows for ``rule`` (tenures ∩ the semester or the academic year), facts, result."""
        period = year.window if rule.period == "academic_year" else semester
        subjects: dict[int, Subject] = {}
        windows: dict[int, list[Window]] = defaultdict(list)
        bound: set[int] = set()
        """People bound by a party-members-only rule whatever their 政治面貌: they hold one of the rule's
        positions that is not listed in ``party_member_positions`` (C-3b: the college's party head)."""
        for h, p in holdings:
            subjects[p.id] = Subject(p.id, p.employee_no, p.name)
            w = clip(h.start_date, h.end_date, period)
            if w is not None:
                windows[p.id].append(w)
                if rule.party_member_positions and h.position_code not in rule.party_member_positions:
                    bound.add(p.id)
        merged = {pid: merge(windows.get(pid, ())) for pid in subjects}
        ids = sorted(subjects)
        if rule.kind == "contact_points":
            facts = self._point_facts(policy, rule, ids, merged, year)
        elif rule.kind == "contact_count":
            facts = self._count_facts(policy, rule, ids, merged, period, year, bound)
        elif rule.kind == "reception_days":
            facts = self._reception_facts(ids, merged, period, year)
        else:
            facts = self._summary_facts(policy, ids, year, semester)
        judge: Callable[..., RuleResult] = CONTACT_RULE_FUNCTIONS[rule.kind]
        return [
            judge(rule, subjects[pid], merged[pid], period, facts.get(pid, ContactFacts(year.code)))
            for pid in ids
        ]

    # -- contact points -------------------------------------------------------------------------------------
    def points(self, ids: Sequence[int], years: Sequence[str]) -> dict[int, list[_PointRow]]:
        """The contact points of ``ids`` in ``years``, with their target's code and name, per person."""
        key = (",".join(sorted(years)), tuple(sorted(ids)))
        cached = self._points_cache.get(key)
        if cached is not None:
            return cached
        cp, sc = ContactPoint, StudentClass
        stmt = (
            select(
                cp.id,
                cp.person_id,
                cp.academic_year,
                cp.kind,
                cp.unit_id,
                cp.student_class_id,
                cp.label,
                cp.start_date,
                cp.end_date,
                Unit.name,
                sc.name,
            )
            .outerjoin(Unit, Unit.id == cp.unit_id)
            .outerjoin(sc, sc.id == cp.student_class_id)
            .where(
                cp.institution_id == self.institution_id,
                cp.person_id.in_(list(ids)),
                cp.academic_year.in_(list(years)),
            )
            .order_by(cp.person_id, cp.academic_year, cp.id)
        )
        out: dict[int, list[_PointRow]] = defaultdict(list)
        for (
            pid_,
            person_id,
            yr,
            kind,
            unit_id,
            class_id,
            label,
            start,
            end,
            unit_name,
            class_name,
        ) in self.session.execute(stmt):
            code = _code(unit_id, class_id, kind, label)
            name = (unit_name if unit_id is not None else class_name if class_id is not None else label) or ""
            out[person_id].append(_PointRow(pid_, person_id, yr, kind, code, name, start, end))
        self._points_cache[key] = out
        return out

    @staticmethod
    def _overlaps(point: _PointRow, year: Window, windows: tuple[Window, ...]) -> bool:
        lo, hi = point.start or year.start, point.end or year.end
        return any(lo <= w.end and hi >= w.start for w in windows)

    def _point_facts(
        self,
        policy: Policy,
        rule: Rule,
        ids: list[int],
        windows: dict[int, tuple[Window, ...]],
        year: AcademicYear,
    ) -> dict[int, ContactFacts]:
        """contact_points (C-1a, C-2a): the points held in the windows, and last year's for rotation."""
        previous = previous_academic_year(year.code)
        rows = self.points(ids, [year.code, previous])
        out = {}
        for pid in ids:
            held = tuple(
                Point(p.kind, p.code, p.label)
                for p in rows.get(pid, ())
                if p.year == year.code and self._overlaps(p, year.window, windows[pid])
            )
            before = frozenset(p.code for p in rows.get(pid, ()) if p.year == previous)
            out[pid] = ContactFacts(year.code, points=held, previous=before)
        return out

    # -- counted activities ---------------------------------------------------------------------------------
    def _credits(self, period: Window, ids: list[int]) -> list[CountedContact]:
        """Every (person, submitted record) credit dated in ``period`` for ``ids``, unconfirmed branch
        activities included (the rules with ``confirmed_only`` leave them out)."""
        key = (period, tuple(ids))
        if key not in self._credits_cache:
            self._credits_cache[key] = counted_contacts(
                self.session,
                self.institution_id,
                period.start,
                period.end,
                person_ids=ids,
                include_unconfirmed=True,
            )
        return self._credits_cache[key]

    def _count_facts(
        self,
        policy: Policy,
        rule: Rule,
        ids: list[int],
        windows: dict[int, tuple[Window, ...]],
        period: Window,
        year: AcademicYear,
        bound: Collection[int] = (),
    ) -> dict[int, ContactFacts]:
        """contact_count: counted records per person inside the windows and at the rule's targets; with
        ``party_members_only``, a person in ``bound`` owes it whether or not a party member."""
        points: dict[int, list[_PointRow]] = {}
        if rule.at in ("contacted_colleges", "own_points"):
            kinds = (
                {ContactPointKind.COLLEGE.value} if rule.at == "contacted_colleges" else set(rule.point_kinds)
            )
            rows = self.points(ids, [year.code])
            points = {
                pid: [
                    p
                    for p in rows.get(pid, ())
                    if p.year == year.code
                    and p.kind in kinds
                    and self._overlaps(p, year.window, windows[pid])
                ]
                for pid in ids
            }
        credits = [
            c
            for c in self._credits(period, ids)
            if c.kind in rule.activities
            and not (rule.confirmed_only and c.kind == BRANCH_ACTIVITY and not c.branch_confirmed)
            and any(w.contains(c.date) for w in windows.get(c.person_id, ()))
        ]
        class_units = self._class_units({c.student_class_id for c in credits if c.student_class_id})
        homes = self._homes(ids) if rule.at == "own_college" else {}
        members = (self._party_members(ids) | set(bound)) if rule.party_members_only else set()
        records: dict[int, set[int]] = defaultdict(set)
        visited: dict[int, set[str]] = defaultdict(set)
        for c in credits:
            code = self._counted_at(rule, c, points.get(c.person_id, ()), year, class_units, homes)
            if code is None:
                continue
            records[c.person_id].add(c.record_id)
            if code:
                visited[c.person_id].add(code)
        return {
            pid: ContactFacts(
                year.code,
                count=len(records[pid]),
                targets=tuple({p.code: Item(p.code, p.label) for p in points.get(pid, ())}.values()),
                visited=frozenset(visited[pid]),
                party_member=pid in members if rule.party_members_only else True,
            )
            for pid in ids
        }

    @staticmethod
    def _counted_at(
        rule: Rule,
        c: CountedContact,
        points: Sequence[_PointRow],
        year: AcademicYear,
        class_units: dict[int, int | None],
        homes: dict[int, tuple[int | None, int | None]],
    ) -> str | None:
        """Where credit ``c`` counts for ``rule``: the target's code ("" for anywhere), or ``None`` when it
        does not count there (another college, outside the contact point's dates, the own branch …)."""
        if rule.at == "any":
            return ""
        if rule.at == "own_college":
            home, branch = homes.get(c.person_id, (None, None))
            if home is None or c.unit_id is None or home not in (c.unit_id, c.unit_parent_id):
                return None
            if rule.exclude_own_branch and branch is not None and c.unit_id == branch:
                return None
            return f"unit:{c.unit_id}"
        for p in points:
            if not (p.start or year.window.start) <= c.date <= (p.end or year.window.end):
                continue
            if rule.at == "contacted_colleges":
                college = int(p.code[5:]) if p.code.startswith("unit:") else None
                class_unit = class_units.get(c.student_class_id) if c.student_class_id else None
                if college is not None and college in (c.unit_id, c.unit_parent_id, class_unit):
                    return p.code
            elif (
                c.contact_point_id == p.id
                or (c.unit_id is not None and p.code == f"unit:{c.unit_id}")
                or (c.student_class_id is not None and p.code == f"class:{c.student_class_id}")
            ):
                return p.code
        return None

    def _class_units(self, class_ids: set[int | None]) -> dict[int, int | None]:
        ids = sorted(i for i in class_ids if i is not None)
        if not ids:
            return {}
        stmt = select(StudentClass.id, StudentClass.unit_id).where(StudentClass.id.in_(ids))
        return {cid: uid for cid, uid in self.session.execute(stmt)}

    def _homes(self, ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
        """Each person's own unit (their college) and own party branch."""
        stmt = select(Person.id, Person.unit_id, Person.branch_id).where(Person.id.in_(ids))
        return {pid: (unit_id, branch_id) for pid, unit_id, branch_id in self.session.execute(stmt)}

    def _party_members(self, ids: list[int]) -> set[int]:
        return set(
            self.session.scalars(select(Person.id).where(Person.id.in_(ids), Person.party_member.is_(True)))
        )

    # -- reception days (C-6a) ------------------------------------------------------------------------------
    def _reception_facts(
        self, ids: list[int], windows: dict[int, tuple[Window, ...]], period: Window, year: AcademicYear
    ) -> dict[int, ContactFacts]:
        """reception_days: the weeks the school office scheduled each person for, whose Monday falls inside
        their windows, recorded or not (``outreach.counting.scheduled_weeks``), and the college's today."""
        today = self.today or clock.today(self.session.get(Institution, self.institution_id))
        weeks: dict[int, list[ReceptionWeek]] = defaultdict(list)
        for w in scheduled_weeks(self.session, self.institution_id, period.start, period.end, person_ids=ids):
            if any(win.contains(w.start) for win in windows.get(w.person_id, ())):
                weeks[w.person_id].append(ReceptionWeek(w.week, w.start, w.end, w.recorded))
        return {pid: ContactFacts(year.code, reception_weeks=tuple(weeks[pid]), today=today) for pid in ids}

    # -- the year-end summary -------------------------------------------------------------------------------
    def _summary_facts(
        self, policy: Policy, ids: list[int], year: AcademicYear, semester: Window
    ) -> dict[int, ContactFacts]:
        """summary_submitted (C-7b): each person's summary of the year, its status and submission day."""
        deadline = summary_deadline(policy.contact, year.code)
        inst = self.session.get(Institution, self.institution_id)
        today = self.today or clock.today(inst)
        # a deadline in the break after this semester (07-15): this semester answers for it once passed
        in_break = (
            deadline > semester.end
            and today > deadline
            and not SemesterService(self.session, self.institution_id).starts_between(semester.end, deadline)
        )

        def facts(submitted_on: dt.date | None = None, draft: bool = False) -> ContactFacts:
            return ContactFacts(
                year.code,
                deadline=deadline,
                semester_end=semester.end,
                deadline_passed_in_break=in_break,
                summary_submitted_on=submitted_on,
                summary_draft=draft,
            )

        out = {pid: facts() for pid in ids}
        stmt = select(ContactSummary.person_id, ContactSummary.status, ContactSummary.submitted_at).where(
            ContactSummary.institution_id == self.institution_id,
            ContactSummary.academic_year == year.code,
            ContactSummary.person_id.in_(ids),
        )
        for pid, status, submitted_at in self.session.execute(stmt):
            on = local_day(submitted_at, inst) if status == SummaryStatus.SUBMITTED and submitted_at else None
            out[pid] = facts(on, draft=on is None)
        return out
