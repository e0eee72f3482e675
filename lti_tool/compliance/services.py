"""Compliance: every person holding a position with duties in a semester × every rule of that position.

The database counts; Python judges. Facts come from a handful of aggregate queries (``GROUP BY`` over
position_holding ⋈ observation_member ⋈ observation ⋈ class_session ⋈ course_section ⋈ course, or over
patrol), each restricted to the rule's windows by joining ``position_holding`` on the person and the
dates: one pass for every counting rule at once (O-1, O-2, O-4, O-5, O-7, O-8, O-10), one for the 思政
courses covered (O-3), one per patrol rule (O-9), two for the terms of office (O-6). The rows that come
back are per person (per course, per teacher or per month at most), never per record. The queries are
driven by the people with duties (observation_member(person_id, …), see the indexes in ``models.py``), so
their cost follows those people's records rather than the semester's. The pure functions of
``rules.py`` then turn the facts into ``RuleResult`` rows.

Counting (docs/decisions.md K-1, K-2; 四.1 of the policy):

- only submitted records count (``observation.status = submitted``);
- the session's date decides the semester, not the record's ``semester_id`` nor when it was written;
- a group observation counts once for each member whose membership is ``signed`` or ``own_record``;
  invited or declined members do not count; a person is counted at most once per session, even when
  they are on two records of it (``count(DISTINCT session_id)``);
- a position counts for the semester when held at any time during it; only records dated inside the
  tenure count for that position's rules, and the result is flagged ``partial``.

Each semester is evaluated under its own policy version (``Semester.policy_version_id``); the first
evaluation of a semester without one stores the current version on it, so old reports reproduce.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    case,
    distinct,
    exists,
    extract,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from lti_tool.compliance.contacts import CONTACT_KINDS, ContactCounting, academic_year_for
from lti_tool.compliance.rules import (
    SHORT,
    Facts,
    Item,
    RuleResult,
    Subject,
    Window,
    clip,
    evaluate,
    merge,
)
from lti_tool.db import get_scoped
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.errors import NotFound
from lti_tool.observations.models import (
    COUNTED_MEMBER_STATUSES,
    Observation,
    ObservationMember,
    ObservationStatus,
)
from lti_tool.patrols.models import Patrol
from lti_tool.policy.schema import Policy, Rule
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    SectionTeacher,
    Semester,
)
from lti_tool.timetable.semesters import SemesterService


@dataclass(frozen=True)
class HeldPosition:
    """One tenure of a position during the period, with its own dates (shown as partial tenure)."""

    code: str
    name: str
    group: str
    start: dt.date | None
    end: dt.date | None
    partial: bool


@dataclass
class PersonCompliance:
    person_id: int
    employee_no: str
    name: str
    unit_name: str
    positions: list[HeldPosition] = field(default_factory=list)
    results: list[RuleResult] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(r.group for r in self.results))

    @property
    def short(self) -> list[RuleResult]:
        return [r for r in self.results if r.status == SHORT and not r.informative]

    @property
    def compliant(self) -> bool:
        """Every non-informative rule is met or does not apply."""
        return not self.short

    @property
    def partial(self) -> bool:
        return any(p.partial for p in self.positions)

    def result(self, rule_id: str) -> RuleResult | None:
        return next((r for r in self.results if r.rule_id == rule_id), None)


@dataclass(frozen=True)
class InstitutionSummary:
    persons: int
    """People with at least one rule this semester."""
    compliant: int
    rate: float | None
    """compliant / persons (``None`` when nobody has a duty)."""
    active_observers: int
    """People with duties counted on at least one submitted record inside their tenure this semester."""
    short: int

    @property
    def rate_percent(self) -> int | None:
        return None if self.rate is None else round(self.rate * 100)


@dataclass
class GroupTable:
    """One policy group (校领导, 教学院（部）负责人, 职能部门负责人): persons × the group's rules."""

    code: str
    name: str
    rules: list[Rule]
    rows: list[tuple[PersonCompliance, dict[str, RuleResult]]]

    @property
    def short_people(self) -> list[PersonCompliance]:
        return [
            p
            for p, cells in self.rows
            if any(r.status == SHORT and not r.informative for r in cells.values())
        ]


@dataclass
class ComplianceReport:
    semester_id: int
    semester_code: str
    period: Window
    policy: Policy
    policy_version_id: int | None
    persons: list[PersonCompliance]
    summary: InstitutionSummary

    @property
    def results(self) -> list[RuleResult]:
        return [r for p in self.persons for r in p.results]

    def person(self, person_id: int) -> PersonCompliance | None:
        return next((p for p in self.persons if p.person_id == person_id), None)

    def groups(self) -> list[GroupTable]:
        tables = []
        for code, name in self.policy.groups.items():
            rows = []
            rule_ids: set[str] = set()
            for p in self.persons:
                cells = {r.rule_id: r for r in p.results if r.group == code}
                if cells:
                    rows.append((p, cells))
                    rule_ids |= cells.keys()
            if rows:
                tables.append(
                    GroupTable(code, name, [r for r in self.policy.rules if r.id in rule_ids], rows)
                )
        return tables

    def system_summary(self, system: str) -> InstitutionSummary:
        """The summary over one system's rules only (``Rule.system``): people with such a rule, and how
        many meet all of them (the observation report and the contact report each quote their own)."""
        ids = {r.id for r in self.policy.rules if r.system == system}
        rows = [[r for r in p.results if r.rule_id in ids] for p in self.persons]
        rows = [rs for rs in rows if rs]
        compliant = sum(1 for rs in rows if not any(r.status == SHORT and not r.informative for r in rs))
        return InstitutionSummary(
            persons=len(rows),
            compliant=compliant,
            rate=compliant / len(rows) if rows else None,
            active_observers=self.summary.active_observers,
            short=len(rows) - compliant,
        )

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() | {"semester": self.semester_code} for r in self.results]


@dataclass(frozen=True)
class GapSession:
    """An upcoming class session that would close part of a gap (shown on the observer's panel)."""

    rule_id: str
    kind: str
    """The rule's kind: ``each_course`` (the item is the course) or ``tenure_coverage`` (a teacher)."""
    item: Item
    session_id: int
    date: dt.date
    starts_at: dt.time | None
    course: str
    room: str
    section_id: int
    teachers: str = ""


def _param(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_) if type_ is not None else bindparam(name)


def _ids() -> Any:
    return bindparam("ids", expanding=True)


def _window(ph: Any, day: Any) -> list[ColumnElement[bool]]:
    """``day`` inside the semester (``:start`` … ``:end``) and inside the holding's tenure (open ends)."""
    return [
        day >= _param("start", Date()),
        day <= _param("end", Date()),
        or_(ph.start_date.is_(None), day >= ph.start_date),
        or_(ph.end_date.is_(None), day <= ph.end_date),
    ]


_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The statement for ``key`` (kind, policy version, rule …), built on first use and kept."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if len(_STATEMENTS) > 500:  # many policy versions in one process: start over
            _STATEMENTS.clear()
        stmt = _STATEMENTS[key] = build()
    return stmt


class ComplianceService:
    """Compliance of one institution's cadres, per semester."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    # -- semesters and their policy -----------------------------------------------------------------------
    def semesters(self) -> list[Semester]:
        return SemesterService(self.session, self.institution_id).all()

    def semester(self, semester_id: int) -> Semester:
        sem = get_scoped(self.session, Semester, semester_id, self.institution_id)
        if sem is None:
            raise NotFound("No semester %(id)s.", id=semester_id)
        return sem

    def semester_by_code(self, code: str) -> Semester:
        sem = self.session.scalars(
            select(Semester).where(Semester.institution_id == self.institution_id, Semester.code == code)
        ).first()
        if sem is None:
            raise NotFound("No semester with code %(code)s.", code=code)
        return sem

    def default_semester(self, today: dt.date) -> Semester | None:
        """The semester running today, else the latest one that has started, else the earliest one."""
        return SemesterService(self.session, self.institution_id).current_or_latest(today)

    def policy_for(self, semester: Semester) -> tuple[Policy, int]:
        """The semester's policy; the first evaluation snapshots the current version onto the semester."""
        store = PolicyStore(self.session, self.institution_id)
        if semester.policy_version_id is None:
            semester.policy_version_id = store.ensure_version().id
            self.session.flush()
        return store.for_version(semester.policy_version_id), semester.policy_version_id

    # -- what would close a gap ---------------------------------------------------------------------------
    def gap_sessions(
        self,
        semester: Semester,
        pc: PersonCompliance,
        today: dt.date,
        per_item: int = 1,
        *,
        now: dt.time | None = None,
    ) -> list[GapSession]:
        """The next sessions (from ``today`` to the semester's end) that would close a short rule's gap:
        a 思政 course not yet observed (O-3), a Marxism-School teacher not yet covered (O-6).

        With ``now`` (the college's wall-clock time on ``today``), today's classes that are already over
        are left out, as the picker leaves them out: nobody can arrive before such a class starts (O-12)."""
        start, end = max(today, semester.start_date), semester.end_date
        if start > end:
            return []
        out: list[GapSession] = []
        cs, sec, c, st, t = ClassSession, CourseSection, Course, SectionTeacher, Person
        for r in pc.results:
            if r.status != SHORT or not r.missing:
                continue
            labels = {m.code: m for m in r.missing}
            if r.kind == "each_course":
                key = c.code
                stmt = (
                    select(key, cs.id, cs.date, cs.starts_at, c.name, cs.room, cs.section_id)
                    .select_from(c)
                    .join(sec, sec.course_id == c.id)
                    .join(cs, cs.section_id == sec.id)
                    .where(c.institution_id == self.institution_id, c.code.in_(sorted(labels)))
                )
            elif r.kind == "tenure_coverage":
                key = t.employee_no
                stmt = (
                    select(key, cs.id, cs.date, cs.starts_at, c.name, cs.room, cs.section_id)
                    .select_from(t)
                    .join(st, st.person_id == t.id)
                    .join(sec, sec.id == st.section_id)
                    .join(c, c.id == sec.course_id)
                    .join(cs, cs.section_id == sec.id)
                    .where(t.institution_id == self.institution_id, t.employee_no.in_(sorted(labels)))
                )
            else:
                continue
            if now is not None:
                stmt = stmt.where(
                    or_(cs.date > today, cs.ends_at.is_(None), cs.ends_at > now.replace(tzinfo=None))
                )
            stmt = (
                stmt.where(cs.date >= start, cs.date <= end, cs.in_timetable())
                .order_by(cs.date, cs.starts_at, cs.id)
                .limit(50 * per_item)
            )
            taken: dict[str, int] = defaultdict(int)
            for code, sid, day, starts_at, course_name, room, section_id in self.session.execute(stmt):
                if taken[code] >= per_item:
                    continue
                taken[code] += 1
                out.append(
                    GapSession(
                        r.rule_id, r.kind, labels[code], sid, day, starts_at, course_name, room, section_id
                    )
                )
        if out:
            names: dict[int, list[str]] = defaultdict(list)
            for section_id, name in self.session.execute(
                select(st.section_id, t.name)
                .join(t, t.id == st.person_id)
                .where(st.section_id.in_({g.section_id for g in out}))
                .order_by(t.employee_no)
            ):
                names[section_id].append(name)
            out = [replace(g, teachers="、".join(names.get(g.section_id, []))) for g in out]
        return out

    # -- evaluation ---------------------------------------------------------------------------------------
    def evaluate(
        self,
        semester: Semester,
        person_ids: Sequence[int] | None = None,
        system: str | None = None,
        *,
        under_version: int | None = None,
        as_of: dt.date | None = None,
    ) -> ComplianceReport:
        """Each person with a duty in ``semester`` (or only ``person_ids``) × each rule of their positions;
        with ``system`` (``observation`` | ``contact``, ``Rule.system``) only that system's rules. With
        ``under_version``, as the semester would stand under that stored policy version (the preview of a
        policy switch) instead of its own.

        With ``as_of`` (a bulletin's checkpoint, C-7c), as the duties stood at the end of that day: the
        semester and the academic year end there for every rule (records, patrols, months, courses taught
        and reception weeks after it are not counted nor owed yet), against the same quotas."""
        if semester.institution_id != self.institution_id:
            raise NotFound("No semester %(id)s.", id=semester.id)
        if under_version is None:
            policy, version_id = self.policy_for(semester)
        else:
            policy = PolicyStore(self.session, self.institution_id).for_version(under_version)
            version_id = under_version
        period = Window(semester.start_date, semester.end_date)
        if as_of is not None:
            period = Window(period.start, max(period.start, min(period.end, as_of)))
        if self.session.get_bind().dialect.name == "postgresql":
            # These are short aggregate queries; PostgreSQL's JIT compiler (on for plans above
            # jit_above_cost) spent ~200 ms compiling one of them, longer than running it. Off for the
            # rest of this transaction only.
            self.session.execute(text("SET LOCAL jit = off"))
        holdings = self._holdings(policy, period, person_ids)
        people: dict[int, PersonCompliance] = {}
        for h, person, unit_name in holdings:
            pc = people.get(person.id)
            if pc is None:
                pc = people[person.id] = PersonCompliance(
                    person.id, person.employee_no, person.name, unit_name or ""
                )
            definition = policy.positions.get(h.position_code)
            pc.positions.append(
                HeldPosition(
                    h.position_code,
                    definition.name if definition else h.position_code,
                    definition.group if definition else "",
                    h.start_date,
                    h.end_date,
                    clip(h.start_date, h.end_date, period) != period,
                )
            )
        ids = sorted(people)
        counts = self._observation_counts(policy, period, ids) if ids else {}
        taught: list[tuple[str, str, dt.date]] | None = None
        contacts = ContactCounting(
            self.session,
            self.institution_id,
            today=period.end + dt.timedelta(days=1) if as_of is not None else None,
        )
        year = academic_year_for(policy, semester.week1_monday)
        checkpoint = as_of if as_of is not None and as_of < semester.end_date else None
        holidays = frozenset(dt.date.fromisoformat(d) for d in semester.holidays or [])
        if as_of is not None:
            year = year._replace(
                window=Window(year.window.start, max(year.window.start, min(year.window.end, as_of)))
            )
        for rule in policy.rules:
            if system is not None and rule.system != system:
                continue
            rule_holdings = [(h, p) for h, p, _ in holdings if h.position_code in rule.positions]
            if not rule_holdings:
                continue
            if rule.kind == "each_course" and taught is None:
                taught = self._taught_courses(policy, period)
            if rule.kind in CONTACT_KINDS:  # the contact system's rules (C-*), counted beside
                rule_results = contacts.evaluate_rule(policy, rule, rule_holdings, period, year)
            else:
                rule_results = self._evaluate_rule(
                    policy, rule, rule_holdings, period, counts, taught or [], checkpoint, holidays
                )
            for result in rule_results:
                pc = people[result.person_id]
                held = [c for c in rule.positions if any(p.code == c for p in pc.positions)]
                group = next((policy.positions[c].group for c in held if c in policy.positions), "")
                pc.results.append(replace(result, positions=tuple(held), group=group))
        persons = sorted((p for p in people.values() if p.results), key=lambda p: p.employee_no)
        active = sum(1 for p in persons if counts.get(p.person_id, {}).get(_ANY, (0, 0))[0])
        return ComplianceReport(
            semester.id,
            semester.code,
            period,
            policy,
            version_id,
            persons,
            self._summary(persons, active),
        )

    def person(
        self, semester: Semester, person_id: int, system: str | None = None
    ) -> PersonCompliance | None:
        """One person's results (the drill-down and the observer's own panel), computed for them only."""
        return self.evaluate(semester, [person_id], system).person(person_id)

    def _holdings(
        self, policy: Policy, period: Window, person_ids: Sequence[int] | None
    ) -> list[tuple[_Holding, _Who, str | None]]:
        """The tenures of positions with duties that overlap the semester, with their holders (plain
        rows: ORM objects cost more to load than the whole counting)."""

        def build() -> Any:
            ph = PositionHolding
            stmt = (
                select(
                    ph.id,
                    ph.position_code,
                    ph.start_date,
                    ph.end_date,
                    Person.id,
                    Person.employee_no,
                    Person.name,
                    Unit.name,
                )
                .select_from(ph)
                .join(Person, Person.id == ph.person_id)
                .outerjoin(Unit, Unit.id == Person.unit_id)
                .where(
                    ph.institution_id == _param("inst"),
                    ph.position_code.in_(sorted(policy.observing_positions())),
                    or_(ph.start_date.is_(None), ph.start_date <= _param("end", Date())),
                    or_(ph.end_date.is_(None), ph.end_date >= _param("start", Date())),
                )
                .order_by(Person.employee_no, ph.start_date)
            )
            return stmt if person_ids is None else stmt.where(ph.person_id.in_(_ids()))

        stmt = _statement(("holdings", policy.sha256, person_ids is None), build)
        params = self._params(period, person_ids or [])
        return [
            (_Holding(hid, code, start, end), _Who(pid, no, name), unit)
            for hid, code, start, end, pid, no, name, unit in self.session.execute(stmt, params)
        ]

    def _evaluate_rule(
        self,
        policy: Policy,
        rule: Rule,
        holdings: list[tuple[_Holding, _Who]],
        period: Window,
        counts: dict[int, dict[str, tuple[int, int]]],
        taught: list[tuple[str, str, dt.date]],
        checkpoint: dt.date | None = None,
        holidays: frozenset[dt.date] = frozenset(),
    ) -> list[RuleResult]:
        """Each person's windows (their tenures of the rule's positions ∩ the semester), their facts, and
        the rule kind's judgement. ``checkpoint``: the day a judgement inside the semester stands at (a
        per-month duty's month still under way then is not owed yet); ``holidays``: the semester's."""
        subjects = {p.id: Subject(p.id, p.employee_no, p.name) for _, p in holdings}
        if rule.kind == "tenure_coverage":
            return self._tenure_coverage(rule, holdings, subjects, period, at_end=checkpoint is None)
        windows: dict[int, list[Window]] = defaultdict(list)
        for h, p in holdings:
            w = clip(h.start_date, h.end_date, period)
            if w is not None:
                windows[p.id].append(w)
        merged = {pid: merge(ws) for pid, ws in windows.items()}
        ids = sorted(merged)
        facts: dict[int, Facts]
        if rule.kind == "per_month":
            months = self._month_facts(policy, rule, ids, period)
            facts = {
                pid: replace(months.get(pid, Facts()), checkpoint=checkpoint, holidays=holidays)
                for pid in ids
            }
        elif rule.kind == "each_course":
            facts = self._course_facts(policy, rule, ids, period, merged, taught)
        elif rule.activity == "patrol":
            facts = self._patrol_counts(rule, ids, period)
        else:
            facts = {
                pid: Facts(count=c.get(rule.id, (0, 0))[0], in_scope=c.get(rule.id, (0, 0))[1])
                for pid, c in counts.items()
            }
        return [evaluate(rule, subjects[pid], merged[pid], period, facts.get(pid, Facts())) for pid in ids]

    # -- facts (aggregate SQL) ----------------------------------------------------------------------------
    # Every statement is built once per policy version and kept (``_statement``): the values that change
    # (institution, people, dates) are bind parameters. Building the expressions cost more than running
    # them on a 10,000-record semester.
    def _params(self, period: Window, ids: Sequence[int]) -> dict[str, Any]:
        return {"inst": self.institution_id, "ids": list(ids), "start": period.start, "end": period.end}

    @staticmethod
    def _counted(rule: Rule | None, policy: Policy, *columns: Any, courses: bool = False) -> Any:
        """SELECT ``columns`` FROM position_holding ⋈ the person's counted memberships dated inside that
        tenure and the semester (⋈ course_section ⋈ course when ``courses``). The caller adds GROUP BY.

        With a ``rule``: only holdings of its positions, and its supervision / 思政 filters. Driven by
        the people's holdings and observation_member(person_id, …), so the cost follows the people with
        duties, not every record of the semester. The tenant is fixed by ``position_holding``; a filter on
        ``observation_member.institution_id`` as well would let SQLite's planner walk every membership of
        the institution instead.
        """
        ph, om, o, cs = PositionHolding, ObservationMember, Observation, ClassSession
        positions = rule.positions if rule else tuple(sorted(policy.observing_positions()))
        stmt = (
            select(*columns)
            .select_from(ph)
            .join(om, om.person_id == ph.person_id)
            .join(o, o.id == om.observation_id)
            .join(cs, cs.id == om.session_id)
            .where(
                ph.institution_id == _param("inst"),
                ph.position_code.in_(positions),
                ph.person_id.in_(_ids()),
                om.status.in_(COUNTED_MEMBER_STATUSES),
                o.status == ObservationStatus.SUBMITTED.value,
                *_window(ph, cs.date),
            )
        )
        if rule is not None and not rule.include_supervision:
            stmt = stmt.where(o.is_supervision == false())
        if courses or (rule is not None and rule.courses == "ideological"):
            stmt = stmt.join(CourseSection, CourseSection.id == cs.section_id).join(
                Course, Course.id == CourseSection.course_id
            )
        if rule is not None and rule.courses == "ideological":
            stmt = stmt.where(func.trim(Course.kind).in_(sorted(policy.ideological_course_kinds)))
        return stmt

    def _observation_counts(
        self, policy: Policy, period: Window, ids: list[int]
    ) -> dict[int, dict[str, tuple[int, int]]]:
        """One pass for every counting rule (min_count and in_scope_share over observations).

        Per person and rule: (distinct sessions counted, of which in the person's own scope). Each row
        of the join is one membership inside one holding's tenure; a rule's column counts the rows whose
        holding is one of the rule's positions, so a person's windows for that rule are exactly the union
        of those tenures, and ``count(DISTINCT session_id)`` counts a session once even when the person is
        on two records of it or holds two of the rule's positions. The ``_ANY`` column (any observing
        position) gives the number of people with duties who observed at all.

        O-10's scope (三.2 "本院（部）教师承担的课程以及其他院（部）为本院学生开设的课程"): the
        section's students belong to the observer's unit, or one of its teachers does, directly or through
        a teaching office or lab of it.
        """
        rules = [
            r
            for r in policy.rules
            if r.activity == "observation" and r.kind in ("min_count", "in_scope_share")
        ]
        keys: list[tuple[str, bool]] = []
        for r in rules:
            keys.append((r.id, False))
            if r.kind == "in_scope_share":
                keys.append((r.id, True))

        def build() -> Any:
            ph, o, c, sec = PositionHolding, Observation, Course, CourseSection
            sid = ObservationMember.session_id
            kinds = sorted(policy.ideological_course_kinds)
            # O-10's scope: the section's students or one of its teachers belong to the observer's unit.
            # A correlated EXISTS: PostgreSQL's generic plan for a join to a (section, unit) subquery
            # expected one row and nested-looped over every teacher (bench/compliance.py: 10.8 s → ≈ 4 s for
            # 100 institutions).
            # A teacher on the roster under a teaching office or lab of the college (a sub-unit whose
            # parent is the college) is the college's teacher too (本院（部）教师).
            observer, st_, t_, tu = aliased(Person), aliased(SectionTeacher), aliased(Person), aliased(Unit)
            teacher_here = (
                select(st_.section_id)
                .join(t_, t_.id == st_.person_id)
                .outerjoin(tu, tu.id == t_.unit_id)
                .where(
                    st_.section_id == sec.id,
                    or_(t_.unit_id == observer.unit_id, tu.parent_id == observer.unit_id),
                )
                .exists()
            )
            in_scope = or_(sec.student_unit_id == observer.unit_id, teacher_here)
            columns: list[Any] = [func.count(distinct(sid))]
            for r in rules:
                cond: list[ColumnElement[bool]] = [ph.position_code.in_(r.positions)]
                if not r.include_supervision:
                    cond.append(o.is_supervision == false())
                if r.courses == "ideological":
                    cond.append(func.trim(c.kind).in_(kinds))
                columns.append(func.count(distinct(case((and_(*cond), sid)))))
                if r.kind == "in_scope_share":
                    columns.append(func.count(distinct(case((and_(*cond, in_scope), sid)))))
            stmt = self._counted(None, policy, ph.person_id, *columns, courses=True)
            if any(r.kind == "in_scope_share" for r in rules):
                stmt = stmt.join(observer, observer.id == ph.person_id)
            return stmt.group_by(ph.person_id)

        stmt = _statement(("counts", policy.sha256), build)
        out: dict[int, dict[str, tuple[int, int]]] = {}
        for row in self.session.execute(stmt, self._params(period, ids)):
            per_rule: dict[str, list[int]] = {_ANY: [int(row[1]), 0]}
            for (rule_id, scope), n in zip(keys, row[2:], strict=True):
                per_rule.setdefault(rule_id, [0, 0])[1 if scope else 0] = int(n)
            out[row[0]] = {k: (v[0], v[1]) for k, v in per_rule.items()}
        return out

    def _taught_courses(self, policy: Policy, period: Window) -> list[tuple[str, str, dt.date]]:
        """The 思政 courses' teaching days in the semester: distinct (code, name, date), a few hundred rows,
        so each person's required set follows their own tenure exactly. Driven by the few 思政 courses. A
        session gone from the timetable (``vanished``, kept only for its records) is not a teaching day: it
        cannot be observed any more, so it never makes a course owed (its submitted records still count)."""

        def build() -> Any:
            cs, c = ClassSession, Course
            return (
                select(c.code, c.name, cs.date)
                .select_from(c)
                .join(CourseSection, CourseSection.course_id == c.id)
                .join(cs, cs.section_id == CourseSection.id)
                .where(
                    c.institution_id == _param("inst"),
                    func.trim(c.kind).in_(sorted(policy.ideological_course_kinds)),
                    cs.date >= _param("start", Date()),
                    cs.date <= _param("end", Date()),
                    cs.in_timetable(),
                )
                .group_by(c.code, c.name, cs.date)
            )

        stmt = _statement(("taught", policy.sha256), build)
        return [(code, name, day) for code, name, day in self.session.execute(stmt, self._params(period, []))]

    def _course_facts(
        self,
        policy: Policy,
        rule: Rule,
        ids: list[int],
        period: Window,
        windows: dict[int, tuple[Window, ...]],
        taught: list[tuple[str, str, dt.date]],
    ) -> dict[int, Facts]:
        """each_course (O-3): the listed courses taught inside each person's windows, and those observed."""

        def build() -> Any:
            ph = PositionHolding
            return self._counted(rule, policy, ph.person_id, Course.code, courses=True).group_by(
                ph.person_id, Course.code
            )

        covered: dict[int, set[str]] = defaultdict(set)
        stmt = _statement(("covered", policy.sha256, rule.id), build)
        for pid, code in self.session.execute(stmt, self._params(period, ids)):
            covered[pid].add(code)
        by_windows: dict[tuple[Window, ...], tuple[Item, ...]] = {}
        out = {}
        for pid in ids:
            ws = windows.get(pid, ())
            if ws not in by_windows:  # most people share the whole semester as their window
                required = {code: name for code, name, day in taught if any(w.contains(day) for w in ws)}
                by_windows[ws] = tuple(
                    Item(code, f"{name}（{code}）") for code, name in sorted(required.items())
                )
            out[pid] = Facts(required_items=by_windows[ws], covered=frozenset(covered[pid]))
        return out

    def _patrol_counts(self, rule: Rule, ids: list[int], period: Window) -> dict[int, Facts]:
        """min_count over patrols: distinct patrols per person inside the tenure windows."""

        def build() -> Any:
            ph = PositionHolding
            return (
                select(ph.person_id, func.count(distinct(Patrol.id)))
                .select_from(ph)
                .join(Patrol, Patrol.person_id == ph.person_id)
                .where(
                    ph.institution_id == _param("inst"),
                    ph.position_code.in_(rule.positions),
                    ph.person_id.in_(_ids()),
                    *_window(ph, Patrol.date),
                )
                .group_by(ph.person_id)
            )

        stmt = _statement(("patrols", rule.id, rule.positions), build)
        return {pid: Facts(count=int(n)) for pid, n in self.session.execute(stmt, self._params(period, ids))}

    def _month_facts(self, policy: Policy, rule: Rule, ids: list[int], period: Window) -> dict[int, Facts]:
        """per_month (O-9): activities per (person, year, month) inside the tenure windows."""

        def build() -> Any:
            ph = PositionHolding
            if rule.activity == "patrol":
                day: Any = Patrol.date
                stmt = (
                    select(
                        ph.person_id,
                        extract("year", day),
                        extract("month", day),
                        func.count(distinct(Patrol.id)),
                    )
                    .select_from(ph)
                    .join(Patrol, Patrol.person_id == ph.person_id)
                    .where(
                        ph.institution_id == _param("inst"),
                        ph.position_code.in_(rule.positions),
                        ph.person_id.in_(_ids()),
                        *_window(ph, day),
                    )
                )
            else:
                day = ClassSession.date
                stmt = self._counted(
                    rule,
                    policy,
                    ph.person_id,
                    extract("year", day),
                    extract("month", day),
                    func.count(distinct(ObservationMember.session_id)),
                )
            return stmt.group_by(ph.person_id, extract("year", day), extract("month", day))

        stmt = _statement(("months", policy.sha256, rule.id), build)
        months: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)
        for pid, year, month, n in self.session.execute(stmt, self._params(period, ids)):
            months[pid][(int(year), int(month))] = int(n)
        return {pid: Facts(per_month=m) for pid, m in months.items()}

    def _tenure_coverage(
        self,
        rule: Rule,
        holdings: list[tuple[_Holding, _Who]],
        subjects: dict[int, Subject],
        period: Window,
        *,
        at_end: bool = True,
    ) -> list[RuleResult]:
        """O-6 (二.2 "马克思主义学院领导班子每位成员，在一个任期内要对所有授课教师做到听课全覆盖").

        Interpretation: the school's 授课教师 are the teachers of sections of the courses the Marxism School
        offers (``course.offering_unit`` is a unit of ``rule.unit_kind``), whatever unit they belong to, who
        have at least one session inside the term; a teacher counts as observed when the leader is counted
        on a submitted record of any session that teacher teaches inside the term. The leader is not asked
        to observe themself. The term of office is the tenure (PositionHolding start..end), which may span
        several semesters; it is evaluated up to the end of the semester at hand, so it reproduces for old
        semesters. With two tenures during the semester, the later one (the term in force) is judged. A
        tenure without a start date is taken to start with the semester.
        """
        terms: dict[int, _Holding] = {}
        for h, p in holdings:
            cur = terms.get(p.id)
            if cur is None or (h.start_date or dt.date.min) > (cur.start_date or dt.date.min):
                terms[p.id] = h
        hids = sorted(h.id for h in terms.values())
        teaching = self._unit_teachers(rule, hids, period)
        observed = self._observed_teachers(hids, period)
        results = []
        for pid in sorted(terms):
            h = terms[pid]
            window = Window(h.start_date or period.start, min(h.end_date or period.end, period.end))
            required = tuple(t for t in teaching.get(pid, ()) if t.code != subjects[pid].employee_no)
            term = Window(h.start_date or period.start, h.end_date or period.end)
            facts = Facts(required_items=required, covered=frozenset(observed.get(pid, ())))
            # A term ending in the break after the semester (no semester starts before its end) is judged
            # for the last time here: the result is final, not "the term continues" (``at_end``: the whole
            # semester is judged, not a checkpoint inside it).
            last = (
                at_end
                and h.end_date is not None
                and h.end_date > period.end
                and not SemesterService(self.session, self.institution_id).starts_between(
                    period.end, h.end_date
                )
            )
            results.append(
                evaluate(
                    rule,
                    subjects[pid],
                    (window,),
                    period,
                    facts,
                    term=term,
                    term_open=h.end_date is None,
                    last_semester=last,
                )
            )
        return results

    @staticmethod
    def _in_term(ph: Any, day: Any) -> list[ColumnElement[bool]]:
        """``day`` inside the holding's term of office, up to the semester's end (``:start`` stands in
        for a missing start date)."""
        return [
            day >= func.coalesce(ph.start_date, _param("start", Date())),
            day <= _param("end", Date()),
            or_(ph.end_date.is_(None), day <= ph.end_date),
        ]

    def _unit_teachers(self, rule: Rule, hids: list[int], period: Window) -> dict[int, list[Item]]:
        """Per leader (by their term's holding id): every teacher of a section of the unit's courses (a
        unit of ``rule.unit_kind``) with a session inside that term. One query for all the leaders."""

        def build() -> Any:
            ph, sec, st, t, cs = PositionHolding, CourseSection, SectionTeacher, Person, ClassSession
            teaches_in_term = exists(
                select(cs.id).where(
                    cs.section_id == sec.id,
                    cs.in_timetable(),  # gone from the timetable: owes nothing
                    *self._in_term(ph, cs.date),
                )
            )
            return (
                select(ph.person_id, t.employee_no, t.name)
                .select_from(ph)
                .join(Course, Course.institution_id == ph.institution_id)
                .join(Unit, Unit.id == Course.offering_unit_id)
                .join(sec, sec.course_id == Course.id)
                .join(st, st.section_id == sec.id)
                .join(t, t.id == st.person_id)
                .where(
                    ph.institution_id == _param("inst"),
                    ph.id.in_(_ids()),
                    Unit.kind == rule.unit_kind,
                    teaches_in_term,
                )
                .group_by(ph.person_id, t.employee_no, t.name)
                .order_by(ph.person_id, t.employee_no)
            )

        out: dict[int, list[Item]] = defaultdict(list)
        stmt = _statement(("unit_teachers", rule.unit_kind), build)
        for pid, no, name in self.session.execute(stmt, self._params(period, hids)):
            out[pid].append(Item(no, f"{name}（{no}）"))
        return out

    def _observed_teachers(self, hids: list[int], period: Window) -> dict[int, set[str]]:
        """Per leader: employee numbers of the teachers of the sessions they are counted on inside their
        term (holding ids ``hids``). Driven by the holdings and observation_member(person_id, …)."""

        def build() -> Any:
            ph, om, o, cs, st, t = (
                PositionHolding,
                ObservationMember,
                Observation,
                ClassSession,
                SectionTeacher,
                Person,
            )
            return (
                select(ph.person_id, t.employee_no)
                .select_from(ph)
                .join(om, om.person_id == ph.person_id)
                .join(o, o.id == om.observation_id)
                .join(cs, cs.id == om.session_id)
                .join(st, st.section_id == cs.section_id)
                .join(t, t.id == st.person_id)
                .where(
                    ph.institution_id == _param("inst"),
                    ph.id.in_(_ids()),
                    om.status.in_(COUNTED_MEMBER_STATUSES),
                    o.status == ObservationStatus.SUBMITTED.value,
                    *self._in_term(ph, cs.date),
                )
                .group_by(ph.person_id, t.employee_no)
            )

        out: dict[int, set[str]] = defaultdict(set)
        stmt = _statement(("observed_teachers",), build)
        for pid, no in self.session.execute(stmt, self._params(period, hids)):
            out[pid].add(no)
        return out

    def _summary(self, persons: list[PersonCompliance], active: int) -> InstitutionSummary:
        compliant = sum(1 for p in persons if p.compliant)
        return InstitutionSummary(
            persons=len(persons),
            compliant=compliant,
            rate=compliant / len(persons) if persons else None,
            active_observers=active,
            short=len(persons) - compliant,
        )

    def record_count(self, semester: Semester) -> int:
        """Submitted records whose session falls in the semester (a headline beside the compliance; not
        part of ``evaluate``, which only reads the people with duties)."""

        def build() -> Any:
            o, cs = Observation, ClassSession
            return (
                select(func.count(o.id))
                .select_from(cs)
                .join(o, o.session_id == cs.id)
                .where(
                    cs.institution_id == _param("inst"),
                    cs.date >= _param("start", Date()),
                    cs.date <= _param("end", Date()),
                    o.status == ObservationStatus.SUBMITTED.value,
                )
            )

        period = Window(semester.start_date, semester.end_date)
        return int(self.session.scalar(_statement(("records",), build), self._params(period, [])) or 0)


class _Holding(NamedTuple):
    id: int
    position_code: str
    start_date: dt.date | None
    end_date: dt.date | None


class _Who(NamedTuple):
    id: int
    employee_no: str
    name: str


_ANY = ""
"""Key of the any-position column of ``_observation_counts`` (no rule ID is empty)."""


def flatten(reports: Iterable[ComplianceReport]) -> list[dict[str, Any]]:
    return [row for report in reports for row in report.to_list()]
