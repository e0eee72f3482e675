"""A semester's statistics: the numbers behind the execution report (O-14), as frozen dataclasses.

Why a snapshot: the execution report, the dashboards and the Excel export must show the same numbers,
and computing them takes seconds on a large college, so the RQ job computes them once and stores the
JSON in a ``StatisticsSnapshot`` row (one non-frozen row per semester, replaced on every run, so running
the job twice is safe). The report reads the snapshot back with ``SemesterStatistics.from_dict``.

Everything is counted by aggregate SQL; the rows that come back are per dimension × level, per unit,
per day or per status — never one per record. Compliance is not judged here: it comes from
``lti_tool.compliance.services.ComplianceService`` (the one place that knows the rules), and this module
only groups its results for the report.

Counting follows docs/decisions.md (K-1, K-5) and the compliance service:

- only submitted records count, and the class session's date decides the semester;
- 听课次数 (observations) counts records; 听课人次 (observer-counts) counts each member of a group
  observation (membership ``signed`` or ``own_record``), a person at most once per session;
- a problem belongs to the semester of its record's session, or of its patrol's date; it is overdue
  when still open (new/accepted) ``policy.problem_overdue_days`` days after it was raised;
- the previous semester is the institution's semester that starts last before this one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, case, delete, distinct, func, literal, or_, select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.compliance.rules import NOT_APPLICABLE, SHORT
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.observations.models import (
    COUNTED_MEMBER_STATUSES,
    Observation,
    ObservationMember,
    ObservationRating,
    ObservationStatus,
)
from lti_tool.outreach.statistics import OutreachStatistics, OutreachStatisticsService
from lti_tool.patrols.models import Patrol
from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import Policy, Rule
from lti_tool.problems.models import OPEN_STATUSES, Problem, ProblemEvent, is_overdue, overdue_condition
from lti_tool.reports.models import ReportRun, StatisticsSnapshot
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import RunProgress
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    SectionTeacher,
    Semester,
    SemesterStatus,
)

SCHEMA_VERSION = 1
"""Bumped when the dataclasses change shape: an older snapshot is then recomputed, never misread."""
PROBLEM_LIST_LIMIT = 300
NO_UNIT = "未分配单位"
SOURCE_LABELS = {"record": "听课记录", "patrol": "巡查"}
STATUS_LABELS = {
    "new": "待受理",
    "accepted": "处理中",
    "resolved": "已处理",
    "confirmed": "已确认解决",
    "rejected": "不予处理",
}
RULE_STATUS_LABELS = {"ok": "已完成", "short": "未完成", "not_applicable": "不适用"}

Progress = Callable[[int, str], None]


# -- the dataclasses --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Headline:
    """The figures of 一、总体情况 (and of the previous semester in 八、与上学期对比)."""

    semester_code: str
    observers_with_duty: int
    """People holding, during the semester, a position with at least one rule."""
    observers_active: int
    """People counted on at least one submitted record of the semester."""
    observations: int
    """Submitted records (听课记录) whose session falls in the semester."""
    observer_counts: int
    """听课人次: each counted member of a record, at most once per person and session."""
    group_observations: int
    """Records with more than one counted member (集体听课)."""
    supervision_observations: int
    sessions_covered: int
    teachers_teaching: int
    teachers_covered: int
    teachers_never_observed: int
    patrols: int
    problems: int
    compliant_people: int
    short_people: int
    compliance_rate: float | None
    """People meeting every duty / people with duties (``None`` when nobody has a duty)."""

    @property
    def teacher_coverage(self) -> float | None:
        return self.teachers_covered / self.teachers_teaching if self.teachers_teaching else None


@dataclass(frozen=True)
class RuleCell:
    rule_id: str
    required: int
    done: int
    status: str
    missing: tuple[str, ...] = ()
    partial: bool = False
    informative: bool = False
    share: float | None = None
    below_target: bool = False

    @property
    def status_label(self) -> str:
        if self.informative:
            return "低于目标" if self.below_target else ("—" if self.status == NOT_APPLICABLE else "参考")
        return RULE_STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class PersonRow:
    person_id: int
    employee_no: str
    name: str
    unit: str
    positions: tuple[str, ...]
    """Position names held during the semester, "（部分任期）" appended to a partial tenure."""
    cells: tuple[RuleCell, ...]
    short: bool

    def cell(self, rule_id: str) -> RuleCell | None:
        return next((c for c in self.cells if c.rule_id == rule_id), None)


@dataclass(frozen=True)
class ShortItem:
    """One line of the 未完成名单: a person short of one rule."""

    employee_no: str
    name: str
    unit: str
    rule_id: str
    required: int
    done: int
    missing: tuple[str, ...]


@dataclass(frozen=True)
class RuleSummary:
    rule_id: str
    label: str
    source: str
    kind: str
    informative: bool
    applicable: int
    ok: int
    short: int

    @property
    def rate(self) -> float | None:
        return self.ok / self.applicable if self.applicable else None


@dataclass(frozen=True)
class GroupCompliance:
    code: str
    label: str
    rule_ids: tuple[str, ...]
    people: tuple[PersonRow, ...]
    compliant: int
    short_list: tuple[ShortItem, ...]

    @property
    def rate(self) -> float | None:
        return self.compliant / len(self.people) if self.people else None


@dataclass(frozen=True)
class CourseRef:
    code: str
    name: str


@dataclass(frozen=True)
class MatrixRow:
    employee_no: str
    name: str
    positions: tuple[str, ...]
    counts: tuple[int | None, ...]
    """Observations of each matrix course; ``None`` where the course is not required of this person
    (not taught during their tenure)."""
    required: int
    covered: int
    status: str


@dataclass(frozen=True)
class IdeologicalMatrix:
    """三、思政课听课情况: leaders of the each_course rule (O-3) × the 思政 required courses taught."""

    rule_id: str
    courses: tuple[CourseRef, ...]
    rows: tuple[MatrixRow, ...]


@dataclass(frozen=True)
class TenureRow:
    """四、马克思主义学院任期覆盖情况 (O-6): one leader's term of office and coverage."""

    rule_id: str
    employee_no: str
    name: str
    term_start: str
    term_end: str
    """Empty when the term is open."""
    observed: int
    teaching: int
    status: str
    missing: tuple[str, ...]
    partial: bool

    @property
    def coverage(self) -> float | None:
        return self.observed / self.teaching if self.teaching else None


@dataclass(frozen=True)
class DistRow:
    code: str
    label: str
    counts: tuple[int, ...]
    """Ratings per level, in the policy scale's order."""
    average: float | None
    """Mean of the levels' scores."""
    records: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts)

    def share(self, index: int) -> float | None:
        return self.counts[index] / self.total if self.total else None


@dataclass(frozen=True)
class RatingDistribution:
    """五、课堂教学评价情况: ratings per dimension, and per unit (the observed teacher's college)."""

    scale_codes: tuple[str, ...]
    scale_labels: tuple[str, ...]
    dimensions: tuple[DistRow, ...]
    units: tuple[DistRow, ...]
    scale_scores: tuple[int, ...] = ()
    """Each level's score (the unit of 平均分), in the scale's order."""


@dataclass(frozen=True)
class UnitCoverage:
    unit: str
    teaching: int
    covered: int

    @property
    def never_observed(self) -> int:
        return self.teaching - self.covered


@dataclass(frozen=True)
class Count:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class ProblemItem:
    id: int
    source: str
    category: str
    category_label: str
    unit: str
    room: str
    description: str
    status: str
    status_label: str
    raised_on: str
    days_open: int
    overdue: bool
    handling: str
    """The latest handling note (处理情况), if any."""


@dataclass(frozen=True)
class ProblemSummary:
    total: int
    open: int
    overdue: int
    overdue_days: int
    by_status: tuple[Count, ...]
    by_source: tuple[Count, ...]
    by_category: tuple[Count, ...]
    by_unit: tuple[Count, ...]
    items: tuple[ProblemItem, ...]
    items_omitted: int

    @property
    def handled_rate(self) -> float | None:
        return (self.total - self.open) / self.total if self.total else None

    @property
    def closed(self) -> int:
        """办结 (resolved, confirmed or declined): the complement of ``open``, by the same rule."""
        return self.total - self.open

    @property
    def open_by_status(self) -> tuple[Count, ...]:
        """The open statuses' rows of ``by_status`` (the text and table 6 read the same counts)."""
        return tuple(c for c in self.by_status if c.code in OPEN_STATUSES)

    @property
    def closed_by_status(self) -> tuple[Count, ...]:
        return tuple(c for c in self.by_status if c.code not in OPEN_STATUSES)


@dataclass(frozen=True)
class MonthPoint:
    month: str
    """``YYYY-MM``"""
    observations: int
    observer_counts: int
    patrols: int


@dataclass(frozen=True)
class SemesterStatistics:
    schema_version: int
    institution_name: str
    semester_id: int
    semester_code: str
    start: str
    end: str
    computed_at: str
    as_of: str
    policy_version: int | None
    policy_name: str
    headline: Headline
    rule_summary: tuple[RuleSummary, ...]
    groups: tuple[GroupCompliance, ...]
    ideological: tuple[IdeologicalMatrix, ...]
    tenure: tuple[TenureRow, ...]
    ratings: RatingDistribution
    unit_coverage: tuple[UnitCoverage, ...]
    problems: ProblemSummary
    trend: tuple[MonthPoint, ...]
    previous: Headline | None
    fingerprint: str = ""
    """``StatisticsService.data_fingerprint()`` when computed: the snapshot is stale once it differs."""
    outreach: OutreachStatistics | None = None
    """Reception days, letters and proposals of the semester (the contact report's sections 十–十二), kept
    so that an archived semester's contact report shows the numbers it was closed with. ``None`` in a
    snapshot stored before they were added: the report then computes them from the live data."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SemesterStatistics:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"statistics snapshot of schema {data.get('schema_version')!r}, expected {SCHEMA_VERSION}"
            )
        return _decode(cls, data)

    def short_people(self) -> list[ShortItem]:
        return [s for g in self.groups for s in g.short_list]


T = TypeVar("T")


def _decode(tp: Any, value: Any) -> Any:
    """Rebuild dataclasses/tuples from JSON following the type hints (the inverse of ``asdict``)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], value)
    if origin is tuple:
        (inner, *_rest) = typing.get_args(tp)
        return tuple(_decode(inner, v) for v in value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value
        }
        return tp(**kwargs)
    if tp is float and isinstance(value, int):
        return float(value)
    return value


# -- computation ------------------------------------------------------------------------------------
def _none(_percent: int, _message: str) -> None:
    return None


class StatisticsService:
    """Computes ``SemesterStatistics`` for one institution; every figure is one aggregate query."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.compliance = ComplianceService(session, institution_id)

    # -- helpers ------------------------------------------------------------------------------------
    def _period(self, semester: Semester) -> list[Any]:
        return [ClassSession.date >= semester.start_date, ClassSession.date <= semester.end_date]

    def _submitted(self, semester: Semester) -> list[Any]:
        """Submitted records of this institution whose session's date is in the semester."""
        return [
            Observation.institution_id == self.institution_id,
            Observation.status == ObservationStatus.SUBMITTED.value,
            *self._period(semester),
        ]

    def _counted_members(self, semester: Semester) -> Any:
        """(person, session, day) of every counted membership, deduplicated (a subquery)."""
        om = ObservationMember
        return (
            select(
                om.person_id.label("person_id"),
                om.session_id.label("session_id"),
                ClassSession.date.label("day"),
            )
            .join(Observation, Observation.id == om.observation_id)
            .join(ClassSession, ClassSession.id == om.session_id)
            .where(
                om.institution_id == self.institution_id,
                om.status.in_(COUNTED_MEMBER_STATUSES),
                *self._submitted(semester),
            )
            .group_by(om.person_id, om.session_id, ClassSession.date)
            .subquery()
        )

    def previous_semester(self, semester: Semester) -> Semester | None:
        return self.session.scalars(
            select(Semester)
            .where(
                Semester.institution_id == self.institution_id, Semester.week1_monday < semester.week1_monday
            )
            .order_by(Semester.week1_monday.desc())
            .limit(1)
        ).first()

    # -- 一、总体情况 ---------------------------------------------------------------------------------
    def headline(self, semester: Semester, report: ComplianceReport) -> Headline:
        s = self.session
        o = Observation
        records = s.execute(
            select(
                func.count(o.id),
                func.count(distinct(o.session_id)),
                func.coalesce(func.sum(case((o.is_supervision.is_(True), 1), else_=0)), 0),
            )
            .join(ClassSession, ClassSession.id == o.session_id)
            .where(*self._submitted(semester))
        ).one()
        members = self._counted_members(semester)
        observer_counts, active = s.execute(
            select(func.count(), func.count(distinct(members.c.person_id))).select_from(members)
        ).one()
        per_record = (
            select(ObservationMember.observation_id)
            .join(o, o.id == ObservationMember.observation_id)
            .join(ClassSession, ClassSession.id == o.session_id)
            .where(
                ObservationMember.institution_id == self.institution_id,
                ObservationMember.status.in_(COUNTED_MEMBER_STATUSES),
                *self._submitted(semester),
            )
            .group_by(ObservationMember.observation_id)
            .having(func.count(distinct(ObservationMember.person_id)) > 1)
            .subquery()
        )
        groups = s.scalar(select(func.count()).select_from(per_record)) or 0
        teaching_q = self._teaching_teachers(semester)
        covered_q = self._covered_teachers(semester)
        teaching = s.scalar(select(func.count()).select_from(teaching_q)) or 0
        covered = (
            s.scalar(
                select(func.count())
                .select_from(teaching_q)
                .where(teaching_q.c.person_id.in_(select(covered_q.c.person_id)))
            )
            or 0
        )
        patrols = (
            s.scalar(
                select(func.count(Patrol.id)).where(
                    Patrol.institution_id == self.institution_id,
                    Patrol.date >= semester.start_date,
                    Patrol.date <= semester.end_date,
                )
            )
            or 0
        )
        problems = (
            s.scalar(select(func.count()).select_from(self._semester_problems(semester).subquery())) or 0
        )
        summary = report.summary
        return Headline(
            semester_code=semester.code,
            observers_with_duty=summary.persons,
            observers_active=int(active),
            observations=int(records[0]),
            observer_counts=int(observer_counts),
            group_observations=int(groups),
            supervision_observations=int(records[2] or 0),
            sessions_covered=int(records[1]),
            teachers_teaching=int(teaching),
            teachers_covered=int(covered),
            teachers_never_observed=int(teaching) - int(covered),
            patrols=int(patrols),
            problems=int(problems),
            compliant_people=summary.compliant,
            short_people=summary.short,
            compliance_rate=summary.rate,
        )

    def _teaching_teachers(self, semester: Semester) -> Any:
        """Distinct teachers with at least one class session in the semester (person_id, unit_id); a session
        gone from the timetable does not make its teacher one who teaches (as in the engine's O-6)."""
        return (
            select(SectionTeacher.person_id.label("person_id"), Person.unit_id.label("unit_id"))
            .join(ClassSession, ClassSession.section_id == SectionTeacher.section_id)
            .join(Person, Person.id == SectionTeacher.person_id)
            .where(
                ClassSession.institution_id == self.institution_id,
                ClassSession.in_timetable(),
                *self._period(semester),
            )
            .group_by(SectionTeacher.person_id, Person.unit_id)
            .subquery()
        )

    def _covered_teachers(self, semester: Semester) -> Any:
        """Distinct teachers of sessions with a submitted record in the semester."""
        return (
            select(SectionTeacher.person_id.label("person_id"))
            .join(ClassSession, ClassSession.section_id == SectionTeacher.section_id)
            .join(Observation, Observation.session_id == ClassSession.id)
            .where(*self._submitted(semester))
            .group_by(SectionTeacher.person_id)
            .subquery()
        )

    def unit_coverage(self, semester: Semester) -> tuple[UnitCoverage, ...]:
        teaching_q = self._teaching_teachers(semester)
        covered_q = self._covered_teachers(semester)
        rows = self.session.execute(
            select(Unit.name, func.count(teaching_q.c.person_id), func.count(covered_q.c.person_id))
            .select_from(teaching_q)
            .outerjoin(covered_q, covered_q.c.person_id == teaching_q.c.person_id)
            .outerjoin(Unit, Unit.id == teaching_q.c.unit_id)
            .group_by(Unit.name)
        ).all()
        out = [UnitCoverage(name or NO_UNIT, int(t), int(c)) for name, t, c in rows]
        return tuple(sorted(out, key=lambda u: (-u.teaching, u.unit)))

    # -- 二、各类人员履职情况 ---------------------------------------------------------------------------
    @staticmethod
    def rule_label(rule: Rule) -> str:
        """A short Chinese description of a rule for table heads and charts."""
        verb = "巡查" if rule.activity == "patrol" else "听课"
        if rule.kind == "min_count":
            what = "思政课" if rule.courses == "ideological" else ""
            return f"{verb}{what}≥{rule.count}次"
        if rule.kind == "each_course":
            return "每门思政必修课≥1次"
        if rule.kind == "tenure_coverage":
            return "任期内授课教师全覆盖"
        if rule.kind == "per_month":
            return f"每月{verb}≥{rule.count}次"
        if rule.kind == "in_scope_share":
            target = f"（目标{rule.target * 100:.0f}%）" if rule.target is not None else ""
            return f"本院（部）课程占比{target}"
        if rule.system == "contact":
            from lti_tool.reports.contacts import rule_label  # the contact report's own words

            return rule_label(rule)
        return rule.kind

    def compliance_sections(
        self, report: ComplianceReport, policy: Policy
    ) -> tuple[tuple[RuleSummary, ...], tuple[GroupCompliance, ...]]:
        summaries = []
        for rule in policy.rules:
            results = [r for r in report.results if r.rule_id == rule.id]
            applicable = [r for r in results if r.status != NOT_APPLICABLE]
            if rule.informative:
                ok = sum(1 for r in applicable if not r.below_target)
            else:
                ok = sum(1 for r in applicable if r.status != SHORT)
            summaries.append(
                RuleSummary(
                    rule.id,
                    self.rule_label(rule),
                    rule.source,
                    rule.kind,
                    rule.informative,
                    len(applicable),
                    ok,
                    len(applicable) - ok,
                )
            )
        groups = []
        for table in report.groups():
            rows, shorts = [], []
            for person, cells in table.rows:
                positions = tuple(
                    p.name + ("（部分任期）" if p.partial else "")
                    for p in person.positions
                    if p.group == table.code
                )
                row_cells = tuple(
                    RuleCell(
                        r.rule_id,
                        r.required,
                        r.done,
                        r.status,
                        tuple(m.label for m in r.missing),
                        r.partial,
                        r.informative,
                        r.share,
                        r.below_target,
                    )
                    for rule in table.rules
                    if (r := cells.get(rule.id)) is not None
                )
                short_cells = [c for c in row_cells if c.status == SHORT and not c.informative]
                rows.append(
                    PersonRow(
                        person.person_id,
                        person.employee_no,
                        person.name,
                        person.unit_name,
                        positions,
                        row_cells,
                        bool(short_cells),
                    )
                )
                shorts += [
                    ShortItem(
                        person.employee_no,
                        person.name,
                        person.unit_name,
                        c.rule_id,
                        c.required,
                        c.done,
                        c.missing,
                    )
                    for c in short_cells
                ]
            groups.append(
                GroupCompliance(
                    table.code,
                    table.name,
                    tuple(r.id for r in table.rules),
                    tuple(rows),
                    sum(1 for r in rows if not r.short),
                    tuple(shorts),
                )
            )
        return tuple(summaries), tuple(groups)

    # -- 三、思政课 / 四、马克思主义学院 -----------------------------------------------------------------
    def ideological(
        self, semester: Semester, report: ComplianceReport, policy: Policy
    ) -> tuple[IdeologicalMatrix, ...]:
        out = []
        for rule in policy.rules:
            if rule.kind != "each_course":
                continue
            results = [r for r in report.results if r.rule_id == rule.id]
            if not results:
                continue
            taught = self.session.execute(
                select(Course.code, Course.name)
                .join(CourseSection, CourseSection.course_id == Course.id)
                .join(ClassSession, ClassSession.section_id == CourseSection.id)
                .where(
                    Course.institution_id == self.institution_id,
                    *self._period(semester),
                    func.trim(Course.kind).in_(sorted(policy.ideological_course_kinds)),
                )
                .group_by(Course.code, Course.name)
                .order_by(Course.code)
            ).all()
            refs = tuple(CourseRef(code, name) for code, name in taught)
            # Which course is taught on which day: a leader with a partial tenure is asked only for the
            # courses taught inside it (the compliance service's reading), so the matrix greys out the rest.
            taught_days = self.session.execute(
                select(Course.code, ClassSession.date)
                .join(CourseSection, CourseSection.course_id == Course.id)
                .join(ClassSession, ClassSession.section_id == CourseSection.id)
                .where(
                    Course.institution_id == self.institution_id,
                    *self._period(semester),
                    func.trim(Course.kind).in_(sorted(policy.ideological_course_kinds)),
                )
                .group_by(Course.code, ClassSession.date)
            ).all()
            # Observations of each 思政 course per person and day (days, so each person's tenure windows
            # can be applied here exactly as the compliance service applies them).
            members = self._counted_members(semester)
            rows = self.session.execute(
                select(
                    members.c.person_id,
                    Course.code,
                    members.c.day,
                    func.count(distinct(members.c.session_id)),
                )
                .join(ClassSession, ClassSession.id == members.c.session_id)
                .join(CourseSection, CourseSection.id == ClassSession.section_id)
                .join(Course, Course.id == CourseSection.course_id)
                .where(
                    members.c.person_id.in_([r.person_id for r in results]),
                    func.trim(Course.kind).in_(sorted(policy.ideological_course_kinds)),
                )
                .group_by(members.c.person_id, Course.code, members.c.day)
            ).all()
            counts: dict[tuple[int, str], int] = defaultdict(int)
            by_person = {r.person_id: r for r in results}
            for pid, code, day, n in rows:
                if any(w.contains(_as_date(day)) for w in by_person[pid].windows):
                    counts[(pid, code)] += int(n)
            person_positions = {p.person_id: p for p in report.persons}
            matrix_rows = []
            for r in sorted(results, key=lambda r: r.employee_no):
                required_codes = {
                    code for code, day in taught_days if any(w.contains(_as_date(day)) for w in r.windows)
                }
                pc = person_positions.get(r.person_id)
                positions = tuple(p.name for p in pc.positions if p.code in rule.positions) if pc else ()
                matrix_rows.append(
                    MatrixRow(
                        r.employee_no,
                        r.name,
                        positions,
                        tuple(
                            counts.get((r.person_id, c.code), 0) if c.code in required_codes else None
                            for c in refs
                        ),
                        r.required,
                        r.done,
                        r.status,
                    )
                )
            out.append(IdeologicalMatrix(rule.id, refs, tuple(matrix_rows)))
        return tuple(out)

    def tenure(self, report: ComplianceReport, policy: Policy) -> tuple[TenureRow, ...]:
        rows = []
        for rule in policy.rules:
            if rule.kind != "tenure_coverage":
                continue
            for r in sorted((r for r in report.results if r.rule_id == rule.id), key=lambda r: r.employee_no):
                rows.append(
                    TenureRow(
                        rule.id,
                        r.employee_no,
                        r.name,
                        str(r.params.get("term_start", "")),
                        str(r.params.get("term_end", "")),
                        r.done,
                        r.required,
                        r.status,
                        tuple(m.label for m in r.missing),
                        r.partial,
                    )
                )
        return tuple(rows)

    # -- 五、课堂教学评价情况 ---------------------------------------------------------------------------
    def ratings(self, semester: Semester, policy: Policy) -> RatingDistribution:
        scale = [c.code for c in policy.scale]
        scores = {c.code: c.score for c in policy.scale}
        rating = ObservationRating
        rows = self.session.execute(
            select(rating.dimension, rating.rating, func.count(rating.id))
            .join(Observation, Observation.id == rating.observation_id)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .where(*self._submitted(semester), rating.rating.is_not(None))
            .group_by(rating.dimension, rating.rating)
        ).all()
        by_dim: dict[str, dict[str, int]] = defaultdict(dict)
        for dim, level, n in rows:
            by_dim[dim][str(level)] = int(n)
        labels = {d.code: d.label for d in policy.dimensions}
        order = [d.code for d in policy.dimensions] + sorted(set(by_dim) - set(labels))
        dims = tuple(
            _dist_row(code, labels.get(code, code), by_dim.get(code, {}), scale, scores) for code in order
        )

        # Per unit of the observed teacher: a rating counts once per unit even when two of the
        # session's teachers belong to the same unit.
        teacher = (
            select(SectionTeacher.section_id, Person.unit_id)
            .join(Person, Person.id == SectionTeacher.person_id)
            .join(CourseSection, CourseSection.id == SectionTeacher.section_id)
            .where(
                CourseSection.institution_id == self.institution_id, CourseSection.semester_id == semester.id
            )
            .group_by(SectionTeacher.section_id, Person.unit_id)
            .subquery()
        )
        unit_rows = self.session.execute(
            select(teacher.c.unit_id, rating.rating, func.count(rating.id))
            .select_from(rating)
            .join(Observation, Observation.id == rating.observation_id)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .join(teacher, teacher.c.section_id == ClassSession.section_id)
            .where(*self._submitted(semester), rating.rating.is_not(None))
            .group_by(teacher.c.unit_id, rating.rating)
        ).all()
        record_rows = self.session.execute(
            select(teacher.c.unit_id, func.count(distinct(Observation.id)))
            .select_from(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .join(teacher, teacher.c.section_id == ClassSession.section_id)
            .where(*self._submitted(semester))
            .group_by(teacher.c.unit_id)
        ).all()
        unit_names = dict(
            self.session.execute(
                select(Unit.id, Unit.name).where(Unit.institution_id == self.institution_id)
            ).all()
        )
        by_unit: dict[int | None, dict[str, int]] = defaultdict(dict)
        for unit_id, level, n in unit_rows:
            by_unit[unit_id][level] = int(n)
        records = {unit_id: int(n) for unit_id, n in record_rows}
        units = [
            dataclasses.replace(
                _dist_row(
                    str(unit_id or ""),
                    unit_names.get(unit_id, NO_UNIT) if unit_id else NO_UNIT,
                    by_unit.get(unit_id, {}),
                    scale,
                    scores,
                ),
                records=records.get(unit_id, 0),
            )
            for unit_id in set(by_unit) | set(records)
        ]
        units.sort(key=lambda u: (-u.records, u.label))
        return RatingDistribution(
            tuple(scale),
            tuple(c.label for c in policy.scale),
            dims,
            tuple(units),
            tuple(c.score for c in policy.scale),
        )

    # -- 六、问题及处理 ---------------------------------------------------------------------------------
    def _semester_problems(self, semester: Semester) -> Any:
        """Problems of the semester: raised in a record whose session is in it, or in a patrol dated in it."""
        return (
            select(Problem.id)
            .outerjoin(Observation, Observation.id == Problem.observation_id)
            .outerjoin(ClassSession, ClassSession.id == Observation.session_id)
            .outerjoin(Patrol, Patrol.id == Problem.patrol_id)
            .where(
                Problem.institution_id == self.institution_id,
                or_(
                    and_(Problem.observation_id.is_not(None), *self._period(semester)),
                    and_(
                        Problem.patrol_id.is_not(None),
                        Patrol.date >= semester.start_date,
                        Patrol.date <= semester.end_date,
                    ),
                ),
            )
        )

    def problems(self, semester: Semester, policy: Policy, now: dt.datetime) -> ProblemSummary:
        ids = self._semester_problems(semester).subquery()
        source = case((Problem.patrol_id.is_not(None), literal("patrol")), else_=literal("record"))
        tz = clock.zone(self.session.get(Institution, self.institution_id))
        by_status = dict(
            self.session.execute(
                select(Problem.status, func.count())
                .where(Problem.id.in_(select(ids.c.id)))
                .group_by(Problem.status)
            ).all()
        )
        by_source: dict[str, int] = dict(
            self.session.execute(
                select(source, func.count()).where(Problem.id.in_(select(ids.c.id))).group_by(source)
            ).all()
        )
        by_category = dict(
            self.session.execute(
                select(Problem.category, func.count())
                .where(Problem.id.in_(select(ids.c.id)))
                .group_by(Problem.category)
            ).all()
        )
        by_unit_rows = self.session.execute(
            select(Unit.name, func.count(Problem.id))
            .select_from(Problem)
            .outerjoin(Unit, Unit.id == Problem.unit_id)
            .where(Problem.id.in_(select(ids.c.id)))
            .group_by(Unit.name)
        ).all()
        overdue_where = [
            Problem.id.in_(select(ids.c.id)),
            overdue_condition(now, policy.problem_overdue_days),
        ]
        overdue = self.session.scalar(select(func.count()).select_from(Problem).where(*overdue_where)) or 0
        total = sum(int(n) for n in by_status.values())
        open_count = sum(int(by_status.get(s, 0)) for s in OPEN_STATUSES)
        categories = {c.code: c.label for c in policy.problem_categories}

        # The list: overdue and open problems first, then the rest, newest first (capped; counted).
        latest_note = (
            select(ProblemEvent.note)
            .where(
                ProblemEvent.problem_id == Problem.id, ProblemEvent.note != "", ProblemEvent.status != "new"
            )
            .order_by(ProblemEvent.at.desc(), ProblemEvent.id.desc())
            .limit(1)
            .correlate(Problem)
            .scalar_subquery()
        )
        is_open = Problem.status.in_(OPEN_STATUSES)
        rows = self.session.execute(
            select(
                Problem.id,
                Problem.patrol_id,
                Problem.category,
                Unit.name,
                Problem.room,
                func.substr(Problem.description, 1, 80),
                Problem.status,
                Problem.created_at,
                Problem.resolved_at,
                latest_note,
            )
            .select_from(Problem)
            .outerjoin(Unit, Unit.id == Problem.unit_id)
            .where(Problem.id.in_(select(ids.c.id)))
            .order_by(is_open.desc(), Problem.created_at.asc(), Problem.id)
            .limit(PROBLEM_LIST_LIMIT)
        ).all()
        items = []
        for pid, patrol_id, category, unit, room, description, status, created, resolved, note in rows:
            created = _aware(created)
            end = _aware(resolved) if resolved is not None and status not in OPEN_STATUSES else now
            days = max(0, (end - created).days)
            items.append(
                ProblemItem(
                    int(pid),
                    "patrol" if patrol_id else "record",
                    category,
                    categories.get(category, category),
                    unit or NO_UNIT,
                    room or "",
                    description or "",
                    status,
                    STATUS_LABELS.get(status, status),
                    clock.local(created, tz).date().isoformat(),
                    days,
                    is_overdue(status, created, now, policy.problem_overdue_days),
                    (note or "")[:120],
                )
            )
        status_order = [*STATUS_LABELS, *sorted(set(by_status) - set(STATUS_LABELS))]
        return ProblemSummary(
            total=total,
            open=open_count,
            overdue=int(overdue),
            overdue_days=policy.problem_overdue_days,
            by_status=tuple(
                Count(s, STATUS_LABELS.get(s, s), int(by_status.get(s, 0))) for s in status_order
            ),
            by_source=tuple(Count(k, label, int(by_source.get(k, 0))) for k, label in SOURCE_LABELS.items()),
            by_category=tuple(
                Count(c.code, c.label, int(by_category[c.code]))
                for c in policy.problem_categories
                if by_category.get(c.code)
            )
            + tuple(
                Count(code, code, int(n)) for code, n in sorted(by_category.items()) if code not in categories
            ),
            by_unit=tuple(
                sorted(
                    (Count("", name or NO_UNIT, int(n)) for name, n in by_unit_rows),
                    key=lambda c: (-c.count, c.label),
                )
            ),
            items=tuple(items),
            items_omitted=max(0, total - len(items)),
        )

    # -- 七、月度趋势 ---------------------------------------------------------------------------------
    def trend(self, semester: Semester) -> tuple[MonthPoint, ...]:
        """Per month of the semester: records, observer-counts and patrols (grouped per day in SQL, so the
        same query runs on SQLite and PostgreSQL; at most ~140 rows come back)."""
        months: dict[str, list[int]] = {}
        day = semester.start_date.replace(day=1)
        while day <= semester.end_date:
            months[f"{day.year:04d}-{day.month:02d}"] = [0, 0, 0]
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)

        def add(rows: Any, index: int) -> None:
            for d, n in rows:
                d = _as_date(d)
                key = f"{d.year:04d}-{d.month:02d}"
                if key in months:
                    months[key][index] += int(n)

        add(
            self.session.execute(
                select(ClassSession.date, func.count(Observation.id))
                .join(ClassSession, ClassSession.id == Observation.session_id)
                .where(*self._submitted(semester))
                .group_by(ClassSession.date)
            ).all(),
            0,
        )
        members = self._counted_members(semester)
        add(self.session.execute(select(members.c.day, func.count()).group_by(members.c.day)).all(), 1)
        add(
            self.session.execute(
                select(Patrol.date, func.count(Patrol.id))
                .where(
                    Patrol.institution_id == self.institution_id,
                    Patrol.date >= semester.start_date,
                    Patrol.date <= semester.end_date,
                )
                .group_by(Patrol.date)
            ).all(),
            2,
        )
        return tuple(MonthPoint(m, *v) for m, v in months.items())

    # -- everything -----------------------------------------------------------------------------------
    def compute(
        self,
        semester: Semester,
        progress: Progress = _none,
        *,
        now: dt.datetime | None = None,
        fingerprint: str | None = None,
    ) -> SemesterStatistics:
        if semester.institution_id != self.institution_id:
            raise ValueError("semester of another institution")
        now = now or utcnow()
        fingerprint = fingerprint if fingerprint is not None else self.data_fingerprint()
        progress(5, "统计合规情况")
        report = self.compliance.evaluate(semester, system="observation")
        policy = report.policy
        progress(25, "统计总体情况")
        headline = self.headline(semester, report)
        rule_summary, groups = self.compliance_sections(report, policy)
        progress(40, "统计思政课与任期覆盖")
        ideological = self.ideological(semester, report, policy)
        tenure = self.tenure(report, policy)
        progress(55, "统计课堂教学评价")
        ratings = self.ratings(semester, policy)
        coverage = self.unit_coverage(semester)
        progress(65, "统计问题处理")
        problems = self.problems(semester, policy, now)
        progress(75, "统计月度趋势")
        trend = self.trend(semester)
        progress(82, "与上学期对比")
        previous = None
        prev = self.previous_semester(semester)
        if prev is not None:
            previous = self.headline(prev, self.compliance.evaluate(prev, system="observation"))
        institution = self.session.get(Institution, self.institution_id)
        progress(88, "统计接待日、来信与提案")
        outreach = OutreachStatisticsService(self.session, self.institution_id, policy).compute(
            semester, today=clock.local(now, institution).date()
        )
        version = (
            self.session.get(PolicyVersion, report.policy_version_id) if report.policy_version_id else None
        )
        return SemesterStatistics(
            schema_version=SCHEMA_VERSION,
            institution_name=institution.name if institution else "",
            semester_id=semester.id,
            semester_code=semester.code,
            start=semester.start_date.isoformat(),
            end=semester.end_date.isoformat(),
            computed_at=now.isoformat(),
            as_of=clock.local(now, institution).date().isoformat(),
            policy_version=version.number if version else None,
            policy_name=policy.name,
            headline=headline,
            rule_summary=rule_summary,
            groups=groups,
            ideological=ideological,
            tenure=tenure,
            ratings=ratings,
            unit_coverage=coverage,
            problems=problems,
            trend=trend,
            previous=previous,
            fingerprint=fingerprint,
            outreach=outreach,
        )

    # -- the snapshot ---------------------------------------------------------------------------------
    def store(
        self, stats: SemesterStatistics, policy_version_id: int | None, *, frozen: bool = False
    ) -> StatisticsSnapshot:
        """Store the snapshot. A normal one replaces the semester's non-frozen snapshot (running twice is
        safe); a frozen one (the archive's final version, O-14) is added and never replaced."""
        if not frozen:
            self.session.execute(
                delete(StatisticsSnapshot).where(
                    StatisticsSnapshot.institution_id == self.institution_id,
                    StatisticsSnapshot.semester_id == stats.semester_id,
                    StatisticsSnapshot.frozen.is_(False),
                )
            )
        row = StatisticsSnapshot(
            institution_id=self.institution_id,
            semester_id=stats.semester_id,
            policy_version_id=policy_version_id,
            computed_at=utcnow(),
            frozen=frozen,
            data=stats.to_dict(),
        )
        self.session.add(row)
        self.session.flush()
        return row

    def latest_snapshot(self, semester_id: int, *, frozen: bool | None = None) -> StatisticsSnapshot | None:
        """The newest snapshot (frozen ones first unless ``frozen`` picks one kind)."""
        stmt = select(StatisticsSnapshot).where(
            StatisticsSnapshot.institution_id == self.institution_id,
            StatisticsSnapshot.semester_id == semester_id,
        )
        if frozen is not None:
            stmt = stmt.where(StatisticsSnapshot.frozen.is_(frozen))
        return self.session.scalars(
            stmt.order_by(
                StatisticsSnapshot.frozen.desc(),
                StatisticsSnapshot.computed_at.desc(),
                StatisticsSnapshot.id.desc(),
            ).limit(1)
        ).first()

    def stored(self, semester_id: int, *, frozen: bool | None = None) -> SemesterStatistics | None:
        """The statistics of the newest stored snapshot (``None`` when there is none of this schema)."""
        return _load(self.latest_snapshot(semester_id, frozen=frozen))

    def data_fingerprint(self) -> str:
        """A cheap summary of everything the statistics read (counts and latest timestamps per table).

        A snapshot is reused only while this is unchanged: comparing with the snapshot's own value, not
        with the clock, stays right when timestamps lie in the future (imports, clock skew).
        """
        inst = self.institution_id
        parts = [
            select(
                func.count(Observation.id),
                func.max(Observation.updated_at),
                func.max(Observation.submitted_at),
            ).where(Observation.institution_id == inst),
            select(func.count(ObservationMember.id), func.max(ObservationMember.signed_at)).where(
                ObservationMember.institution_id == inst
            ),
            select(func.count(Patrol.id), func.max(Patrol.created_at)).where(Patrol.institution_id == inst),
            select(func.count(Problem.id), func.max(Problem.created_at), func.max(Problem.resolved_at)).where(
                Problem.institution_id == inst
            ),
            select(func.count(ProblemEvent.id), func.max(ProblemEvent.at))
            .join(Problem, Problem.id == ProblemEvent.problem_id)
            .where(Problem.institution_id == inst),
            select(func.count(PositionHolding.id), func.max(PositionHolding.id)).where(
                PositionHolding.institution_id == inst
            ),
            select(func.count(PolicyVersion.id), func.max(PolicyVersion.id)).where(
                PolicyVersion.institution_id == inst
            ),
            select(func.count(ClassSession.id), func.max(ClassSession.id)).where(
                ClassSession.institution_id == inst
            ),
        ]
        return "|".join(",".join(str(v) for v in self.session.execute(stmt).one()) for stmt in parts)

    def fresh_statistics(
        self, semester: Semester, progress: Progress = _none, *, max_age: dt.timedelta = dt.timedelta(hours=1)
    ) -> SemesterStatistics:
        """Statistics for a report, reusing a stored snapshot when it is still right:

        - an archived semester uses its latest frozen snapshot (the archive reproduces exactly);
        - otherwise the non-frozen snapshot when nothing it reads changed (same fingerprint) and it is
          recent (roster edits leave no timestamp, hence the age limit);
        - else the statistics are computed now and stored (so the dashboards see them too).
        """
        if semester.status == SemesterStatus.ARCHIVED:
            stored = _load(self.latest_snapshot(semester.id, frozen=True))
            if stored is not None:
                return stored
        fingerprint = self.data_fingerprint()
        row = self.latest_snapshot(semester.id, frozen=False)
        stored = _load(row)
        if (
            row is not None
            and stored is not None
            and stored.fingerprint == fingerprint
            and utcnow() - _aware(row.computed_at) < max_age
        ):
            return stored
        stats = self.compute(semester, progress, fingerprint=fingerprint)
        self.store(stats, semester.policy_version_id)
        return stats


def _load(row: StatisticsSnapshot | None) -> SemesterStatistics | None:
    if row is None:
        return None
    try:
        return SemesterStatistics.from_dict(row.data)
    except (ValueError, KeyError, TypeError):
        return None  # an older schema: the caller recomputes


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _as_date(value: Any) -> dt.date:
    """A DATE column's value (SQLite may hand back a string from a subquery column)."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _dist_row(
    code: str, label: str, counts: dict[str, int], scale: list[str], scores: dict[str, int]
) -> DistRow:
    ordered = tuple(int(counts.get(level, 0)) for level in scale)
    total = sum(ordered)
    average = (
        sum(n * scores[level] for n, level in zip(ordered, scale, strict=True)) / total if total else None
    )
    return DistRow(code, label, ordered, round(average, 3) if average is not None else None)


def compute_statistics(
    session: Session, institution_id: int, semester_id: int, progress: Progress | None = None
) -> SemesterStatistics:
    """The semester's statistics (not stored); ``progress(percent, message)`` is told as steps finish."""
    service = StatisticsService(session, institution_id)
    semester = service.compliance.semester(semester_id)
    return service.compute(semester, progress or _none)


@register_builder("statistics")
def build_statistics(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    """The RQ builder: compute and store the semester's snapshot (idempotent: the old one is replaced).

    A frozen run (queued when the semester is closed, lti_tool/archive) stores a frozen snapshot: the
    archive's version of the numbers, never replaced afterwards."""
    if run.semester_id is None:
        raise ValueError("a statistics run needs a semester")
    service = StatisticsService(session, run.institution_id)
    semester = service.compliance.semester(run.semester_id)
    stats = service.compute(semester, progress)
    progress(92, "保存统计快照")
    service.store(stats, semester.policy_version_id, frozen=run.frozen)
    return "", None


__all__ = [
    "Headline",
    "MonthPoint",
    "ProblemSummary",
    "RatingDistribution",
    "SemesterStatistics",
    "StatisticsService",
    "compute_statistics",
]
