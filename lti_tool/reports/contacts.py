"""The grassroots-contact system's PDFs: the execution report (联系基层制度执行情况报告) and a leader's
contact archive of an academic year (C-7a), built by the worker like the observation report.

PDF = numbers → Jinja → WeasyPrint (docs/decisions.md W-5), in the observation report's official look
(templates/reports/report.css). The numbers are dataclasses computed here from the one compliance engine
(``ComplianceService.evaluate(…, system="contact")``) and from the contacts domain's one definition of what
counts (``contacts.counting.counted_contacts``); the tests check the dataclasses, the PDF shows them.

The execution report covers one semester (the run's): headline figures, compliance per group with who is
short, the school leaders × colleges coverage matrix, branch activities, lectures, symposia, opinions heard,
problems raised in contacts with their handling, the month-by-month trend, and the same weeks one year
earlier; its suggestions are generated from those numbers. Annual rules (C-1a, C-2a, C-7b) are judged for
the academic year the semester belongs to.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool import clock
from lti_tool.compliance.contacts import academic_year_for, local_day
from lti_tool.compliance.rules import NOT_APPLICABLE, SHORT, RuleResult
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.contacts.counting import contact_points_of_year
from lti_tool.contacts.models import BranchConfirmation, ContactKind, ContactRecord, ContactStatus
from lti_tool.contacts.summaries import (
    KIND_WORDS,
    ContactSummary,
    SummaryService,
    SummaryStatus,
    summary_deadline,
)
from lti_tool.directory.models import Person, Unit, UnitKind
from lti_tool.errors import NotFound
from lti_tool.outreach.statistics import OutreachStatistics, OutreachStatisticsService
from lti_tool.policy.schema import Policy, Rule
from lti_tool.problems.models import Problem, ProblemStatus
from lti_tool.reports import charts
from lti_tool.reports.models import ReportRun
from lti_tool.reports.pdf import render_pdf, render_template
from lti_tool.reports.report import semester_label
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import RunProgress
from lti_tool.reports.statistics import StatisticsService
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester, SemesterStatus

KIND_LABELS = KIND_WORDS
POINT_KIND_LABELS = {
    "college": "教学院（部）",
    "teaching_office": "教研室",
    "lab": "实验室",
    "student_class": "学生班级",
    "party_branch": "党支部",
    "dormitory": "学生宿舍",
    "club": "学生社团",
    "friend": "联系交友对象",
}
STATUS_LABELS = {"ok": "已完成", "short": "未完成", "not_applicable": "不适用"}
PROBLEM_STATUS_LABELS = {
    ProblemStatus.NEW.value: "待处理",
    ProblemStatus.ACCEPTED.value: "处理中",
    ProblemStatus.RESOLVED.value: "已解决",
    ProblemStatus.CONFIRMED.value: "已确认解决",
    ProblemStatus.REJECTED.value: "未受理",
}
CONFIRMATION_LABELS = {
    BranchConfirmation.CONFIRMED.value: "已确认",
    BranchConfirmation.DECLINED.value: "未确认",
    BranchConfirmation.PENDING.value: "待确认",
}
SECTIONS = (
    ("s1", "一、总体情况"),
    ("s2", "二、各类人员履职情况"),
    ("s3", "三、校领导联系院（部）情况"),
    ("s4", "四、联系党支部情况"),
    ("s5", "五、讲授思政课和召开座谈会情况"),
    ("s6", "六、听取的意见建议"),
    ("s7", "七、联系中发现的问题及处理情况"),
    ("s8", "八、月度趋势"),
    ("s9", "九、与上一学年同期对比"),
    ("s10", "十、接待日情况"),
    ("s11", "十一、校领导信箱来信办理情况"),
    ("s12", "十二、教代会、学代会提案办理情况"),
    ("s13", "十三、工作建议"),
)
# the outreach sections' words for the codes stored in the snapshot (lti_tool/outreach/statistics.py)
IDENTITY_LABELS = {
    "teacher": "教师",
    "student": "学生",
    "staff": "职工",
    "retiree": "离退休人员",
    "other": "其他",
}
VISIT_OUTCOME_LABELS = {"adopted": "采纳意见", "explained": "解释说明", "solved": "协调解决"}
FOLLOW_UP_STATUS_LABELS = {
    "received": "待受理",
    "with_leader": "待校领导批示",
    "with_unit": "承办单位办理中",
    "answered": "答复待审核",
    "released": "已答复待反馈",
    "closed": "已办结",
}
FOLLOW_UP_OUTCOME_LABELS = {
    "answered": "已答复",
    "duplicate": "重复来信",
    "not_for_leaders": "非校领导信箱受理范围",
    "declined": "不予立案",
    "withdrawn": "撤销",
}
TIMELINESS_LABELS = {"on_time": "按期", "late": "超期答复", "overdue": "已超期", "": "—"}
SATISFACTION_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
EXCERPT = 160


def rule_label(rule: Rule) -> str:
    """A short Chinese description of a contact rule for table heads (the policy's own words)."""
    if rule.kind == "contact_points":
        parts = [
            f"{req.label}{req.min}–{req.max}个" if req.max else f"{req.label}≥{req.min}个"
            for req in rule.requires
        ]
        return "、".join(parts) + ("（每年轮换）" if rule.rotation else "")
    if rule.kind == "contact_count":
        what = rule.activity_label or "、".join(KIND_LABELS.get(k, k) for k in rule.activities)
        return f"{what}≥{rule.count}次"
    if rule.kind == "summary_submitted":
        return "按时提交年度联系基层工作总结"
    if rule.kind == "reception_days":
        return "按学校办公室安排接待来访并记录（每周1位校领导）"
    return rule.kind


def _excerpt(text: str, n: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- the numbers -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    rule_id: str
    required: int
    done: int
    status: str
    partial: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class ShortEntry:
    name: str
    unit: str
    rule_id: str
    required: int
    done: int
    missing: tuple[str, ...]
    explanation: str
    """The engine's msgid; the report translates it with ``params`` (the report is always Chinese)."""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PersonRow:
    name: str
    employee_no: str
    unit: str
    positions: list[str]
    cells: dict[str, Cell]

    def cell(self, rule_id: str) -> Cell | None:
        return self.cells.get(rule_id)


@dataclass
class GroupSection:
    label: str
    rule_ids: list[str]
    people: list[PersonRow]
    short_list: list[ShortEntry]

    @property
    def compliant(self) -> int:
        return sum(1 for p in self.people if all(c.status != SHORT for c in p.cells.values()))

    @property
    def rate(self) -> float | None:
        return self.compliant / len(self.people) if self.people else None


@dataclass(frozen=True)
class RuleRow:
    rule_id: str
    label: str
    source: str
    applicable: int
    ok: int
    short: int

    @property
    def rate(self) -> float | None:
        return self.ok / self.applicable if self.applicable else None


@dataclass(frozen=True)
class Figures:
    """Activity figures of a period (this semester, or the same weeks one year earlier)."""

    records: int = 0
    credits: int = 0
    """Leader-activities (人次): a group record counts once per leader."""
    leaders_active: int = 0
    visits: int = 0
    branch_activities: int = 0
    branch_confirmed: int = 0
    lectures: int = 0
    symposia: int = 0
    with_opinions: int = 0
    problems: int = 0


@dataclass(frozen=True)
class Headline:
    leaders_with_duty: int
    compliant: int
    short: int
    compliance_rate: float | None
    figures: Figures


@dataclass(frozen=True)
class CoverageRow:
    name: str
    colleges: tuple[str, ...]
    """The colleges held as contact points this academic year."""
    visits: tuple[int | None, ...]
    """Per college column: visits this semester (``None``: neither contacted nor visited)."""
    held: tuple[bool, ...]


@dataclass(frozen=True)
class ActivityRow:
    date: dt.date
    leaders: str
    target: str
    college: str
    participants: int | None
    status: str
    text: str


@dataclass(frozen=True)
class ProblemRow:
    date: dt.date
    raised_by: str
    description: str
    unit: str
    status: str
    handling: str
    open: bool


@dataclass(frozen=True)
class MonthRow:
    month: str
    records: int
    visits: int
    branch_activities: int
    lectures_symposia: int
    others: int


@dataclass
class ContactStatistics:
    institution_name: str
    semester_code: str
    semester_label: str
    academic_year: str
    start: dt.date
    end: dt.date
    as_of: dt.date
    policy_name: str
    headline: Headline
    rule_summary: list[RuleRow]
    groups: list[GroupSection]
    colleges: list[str]
    coverage: list[CoverageRow]
    branch_activities: list[ActivityRow]
    lectures: list[ActivityRow]
    symposia: list[ActivityRow]
    opinions: list[ActivityRow]
    problems: list[ProblemRow]
    trend: list[MonthRow]
    previous: Figures
    previous_start: dt.date
    previous_end: dt.date
    outreach: OutreachStatistics
    outreach_frozen: bool = False
    """The outreach sections come from the archived semester's frozen statistics snapshot."""
    summaries_submitted: int = 0
    summaries_due: int = 0
    suggestions: list[str] = field(default_factory=list)


class ContactReportService:
    """Computes the contact report's and the archive's numbers for one institution."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.compliance = ComplianceService(session, institution_id)

    # -- records of a period --------------------------------------------------------------------------------
    def _records(self, start: dt.date, end: dt.date, person_id: int | None = None) -> list[ContactRecord]:
        stmt = (
            select(ContactRecord)
            .where(
                ContactRecord.institution_id == self.institution_id,
                ContactRecord.status == ContactStatus.SUBMITTED.value,
                ContactRecord.date >= start,
                ContactRecord.date <= end,
            )
            .options(selectinload(ContactRecord.members))
            .order_by(ContactRecord.date, ContactRecord.id)
        )
        records = list(self.session.scalars(stmt).unique())
        if person_id is not None:
            records = [r for r in records if any(m.person_id == person_id for m in r.members)]
        return records

    def _problems(self, record_ids: list[int]) -> list[Problem]:
        if not record_ids:
            return []
        return list(
            self.session.scalars(
                select(Problem)
                .where(
                    Problem.institution_id == self.institution_id, Problem.contact_record_id.in_(record_ids)
                )
                .options(selectinload(Problem.events))
                .order_by(Problem.created_at, Problem.id)
            )
        )

    @staticmethod
    def _counts(rec: ContactRecord) -> bool:
        """A branch activity counts only once confirmed (C-3c); every other submitted record counts."""
        return rec.kind != ContactKind.BRANCH_ACTIVITY or rec.branch_confirmed

    def figures(self, start: dt.date, end: dt.date) -> Figures:
        records = self._records(start, end)
        counted = [r for r in records if self._counts(r)]
        branch = [r for r in records if r.kind == ContactKind.BRANCH_ACTIVITY]
        return Figures(
            records=len(records),
            credits=sum(len(r.members) for r in counted),
            leaders_active=len({m.person_id for r in counted for m in r.members}),
            visits=sum(1 for r in records if r.kind == ContactKind.VISIT),
            branch_activities=len(branch),
            branch_confirmed=sum(1 for r in branch if r.branch_confirmed),
            lectures=sum(1 for r in records if r.kind == ContactKind.LECTURE),
            symposia=sum(1 for r in records if r.kind == ContactKind.SYMPOSIUM),
            with_opinions=sum(1 for r in records if (r.opinions or "").strip()),
            problems=len(self._problems([r.id for r in records])),
        )

    # -- compliance tables ----------------------------------------------------------------------------------
    @staticmethod
    def compliance_sections(
        report: ComplianceReport, policy: Policy
    ) -> tuple[list[RuleRow], list[GroupSection]]:
        rules = [r for r in policy.rules if r.system == "contact"]
        summary = []
        for rule in rules:
            results = [r for r in report.results if r.rule_id == rule.id and r.status != NOT_APPLICABLE]
            if not results:
                continue
            ok = sum(1 for r in results if r.status != SHORT)
            summary.append(
                RuleRow(rule.id, rule_label(rule), rule.source, len(results), ok, len(results) - ok)
            )
        groups = []
        for table in report.groups():
            people = []
            short: list[ShortEntry] = []
            for p, cells in table.rows:
                people.append(
                    PersonRow(
                        p.name,
                        p.employee_no,
                        p.unit_name,
                        list(dict.fromkeys(pos.name for pos in p.positions)),
                        {rid: Cell(rid, r.required, r.done, r.status, r.partial) for rid, r in cells.items()},
                    )
                )
                for r in cells.values():
                    if r.status == SHORT and not r.informative:
                        short.append(_short(p.name, p.unit_name, r))
            groups.append(GroupSection(table.name, [r.id for r in table.rules], people, short))
        return summary, groups

    def statistics(self, semester: Semester) -> ContactStatistics:
        policy, _ = self.compliance.policy_for(semester)
        report = self.compliance.evaluate(semester, system="contact")
        year = academic_year_for(policy, semester.week1_monday)
        inst = self.session.get(Institution, self.institution_id)
        start, end = semester.start_date, semester.end_date
        records = self._records(start, end)
        names = dict(
            self.session.execute(
                select(Person.id, Person.name).where(Person.institution_id == self.institution_id)
            ).all()
        )
        units = {
            uid: (name, kind, parent)
            for uid, name, kind, parent in self.session.execute(
                select(Unit.id, Unit.name, Unit.kind, Unit.parent_id).where(
                    Unit.institution_id == self.institution_id
                )
            )
        }
        rule_summary, groups = self.compliance_sections(report, policy)
        figures = self.figures(start, end)
        headline = Headline(
            leaders_with_duty=report.summary.persons,
            compliant=report.summary.compliant,
            short=report.summary.short,
            compliance_rate=report.summary.rate,
            figures=figures,
        )

        def leaders(rec: ContactRecord) -> str:
            return "、".join(names.get(m.person_id, "") for m in rec.members)

        def target(rec: ContactRecord) -> str:
            return SummaryService.target_name(rec)

        def college_of(rec: ContactRecord) -> str:
            if rec.unit_id is None:
                return rec.student_class.unit.name if rec.student_class and rec.student_class.unit else ""
            name, kind, parent = units.get(rec.unit_id, ("", "", None))
            if parent is not None:
                return units.get(parent, ("", "", None))[0]
            return name if kind in (UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL) else ""

        # 三、coverage: school leaders (the holders of a rule with contacted colleges) × teaching colleges
        college_rules = {
            r.id
            for r in policy.rules
            if r.kind == "contact_points" and any("college" in q.kinds for q in r.requires)
        }
        leaders_ids = sorted({r.person_id for r in report.results if r.rule_id in college_rules})
        colleges = [
            (uid, name)
            for uid, (name, kind, parent) in sorted(units.items(), key=lambda u: u[1][0])
            if kind == UnitKind.COLLEGE and parent is None
        ]
        points = (
            contact_points_of_year(self.session, self.institution_id, year.code, leaders_ids)
            if leaders_ids
            else []
        )
        held: dict[int, set[int]] = defaultdict(set)
        for p in points:
            if p.kind == "college" and p.unit_id is not None:
                held[p.person_id].add(p.unit_id)
        visits: dict[tuple[int, int], int] = Counter()
        for rec in records:
            if rec.kind != ContactKind.VISIT or rec.unit_id is None:
                continue
            name, kind, parent = units.get(rec.unit_id, ("", "", None))
            college = parent if parent is not None else rec.unit_id
            for m in rec.members:
                visits[(m.person_id, college)] += 1
        coverage = []
        for pid in leaders_ids:
            coverage.append(
                CoverageRow(
                    names.get(pid, ""),
                    tuple(name for uid, name in colleges if uid in held[pid]),
                    tuple(visits.get((pid, uid)) or (0 if uid in held[pid] else None) for uid, _ in colleges),
                    tuple(uid in held[pid] for uid, _ in colleges),
                )
            )

        def row(rec: ContactRecord, text: str, status: str = "") -> ActivityRow:
            return ActivityRow(
                rec.date, leaders(rec), target(rec), college_of(rec), rec.participants, status, _excerpt(text)
            )

        branch = [
            row(
                r,
                r.content,
                "书面确认"
                if r.confirmed_on_paper
                else CONFIRMATION_LABELS.get(r.branch_confirmation, r.branch_confirmation),
            )
            for r in records
            if r.kind == ContactKind.BRANCH_ACTIVITY
        ]
        lectures = [row(r, r.content) for r in records if r.kind == ContactKind.LECTURE]
        symposia = [row(r, r.opinions or r.content) for r in records if r.kind == ContactKind.SYMPOSIUM]
        opinions = [
            row(r, r.opinions, KIND_LABELS.get(r.kind, r.kind)) for r in records if (r.opinions or "").strip()
        ]
        problems = []
        for prob in self._problems([r.id for r in records]):
            source = next((r for r in records if r.id == prob.contact_record_id), None)
            note = next((e.note for e in reversed(prob.events) if e.note), "")
            problems.append(
                ProblemRow(
                    source.date if source else local_day(prob.created_at, inst),
                    names.get(prob.raised_by_id, ""),
                    _excerpt(prob.description, 100),
                    prob.unit.name if prob.unit else "未分派",
                    PROBLEM_STATUS_LABELS.get(prob.status, prob.status),
                    _excerpt(note, 100),
                    prob.status in (ProblemStatus.NEW, ProblemStatus.ACCEPTED),
                )
            )
        months: dict[str, list[int]] = {}
        day = start.replace(day=1)
        while day <= end:
            months[f"{day:%Y-%m}"] = [0, 0, 0, 0, 0]
            day = (day + dt.timedelta(days=32)).replace(day=1)
        for rec in records:
            counts = months.setdefault(f"{rec.date:%Y-%m}", [0, 0, 0, 0, 0])
            counts[0] += 1
            if rec.kind == ContactKind.VISIT:
                counts[1] += 1
            elif rec.kind == ContactKind.BRANCH_ACTIVITY:
                counts[2] += 1
            elif rec.kind in (ContactKind.LECTURE, ContactKind.SYMPOSIUM):
                counts[3] += 1
            else:
                counts[4] += 1
        trend = [MonthRow(k, *v) for k, v in sorted(months.items())]
        prev_start, prev_end = _year_earlier(start), _year_earlier(end)
        previous = self.figures(prev_start, prev_end)
        summaries = [r for r in report.results if policy.rule(r.rule_id).kind == "summary_submitted"]
        outreach, frozen = self.outreach(semester, policy)
        stats = ContactStatistics(
            institution_name=inst.name if inst else "",
            semester_code=semester.code,
            semester_label=semester_label(semester.code),
            academic_year=year.code,
            start=start,
            end=end,
            as_of=min(clock.today(inst), end),
            policy_name=policy.name,
            headline=headline,
            rule_summary=rule_summary,
            groups=groups,
            colleges=[name for _, name in colleges],
            coverage=coverage,
            branch_activities=branch,
            lectures=lectures,
            symposia=symposia,
            opinions=opinions,
            problems=problems,
            trend=trend,
            previous=previous,
            previous_start=prev_start,
            previous_end=prev_end,
            outreach=outreach,
            outreach_frozen=frozen,
            summaries_submitted=sum(1 for r in summaries if r.status == "ok"),
            summaries_due=len(summaries),
        )
        stats.suggestions = suggestions(stats, summary_deadline(policy.contact, year.code))
        return stats

    def outreach(self, semester: Semester, policy: Policy) -> tuple[OutreachStatistics, bool]:
        """Sections 十–十二: an archived semester's from its frozen statistics snapshot (the numbers it was
        closed with, whatever changed since); otherwise, or when that snapshot predates them, computed now."""
        if semester.status == SemesterStatus.ARCHIVED:
            stored = StatisticsService(self.session, self.institution_id).stored(semester.id, frozen=True)
            if stored is not None and stored.outreach is not None:
                return stored.outreach, True
        return OutreachStatisticsService(self.session, self.institution_id, policy).compute(semester), False

    # -- a leader's archive of the year ---------------------------------------------------------------------
    def archive(self, person_id: int, semester: Semester) -> ContactArchive:
        """Every submitted record of the person in the academic year of ``semester``, in date order, with
        the year's contact points, the contact duties of each semester of the year and the summary."""
        person = self.session.get(Person, person_id)
        if person is None or person.institution_id != self.institution_id:
            raise NotFound("No person %(id)s.", id=person_id)
        policy, _ = self.compliance.policy_for(semester)
        year = academic_year_for(policy, semester.week1_monday)
        inst = self.session.get(Institution, self.institution_id)
        records = self._records(year.window.start, year.window.end, person_id)
        names = dict(
            self.session.execute(
                select(Person.id, Person.name).where(Person.institution_id == self.institution_id)
            ).all()
        )
        problems_by_record: dict[int, list[str]] = defaultdict(list)
        for p in self._problems([r.id for r in records]):
            note = next((e.note for e in reversed(p.events) if e.note), "")
            problems_by_record[p.contact_record_id or 0].append(
                f"{p.description.strip()}（{p.unit.name if p.unit else '未分派'}，"
                f"{PROBLEM_STATUS_LABELS.get(p.status, p.status)}"
                + (f"：{note.strip()}" if note.strip() else "")
                + "）"
            )
        entries = [
            ArchiveEntry(
                date=r.date,
                kind=KIND_LABELS.get(r.kind, r.kind),
                target=SummaryService.target_name(r),
                place=r.place or "",
                participants=r.participants,
                members="、".join(names.get(m.person_id, "") for m in r.members),
                author=names.get(r.author_id, ""),
                content=r.content or "",
                opinions=r.opinions or "",
                follow_up=r.follow_up or "",
                leader_opinion=r.leader_opinion or "",
                confirmation=(
                    (
                        "书面确认"
                        if r.confirmed_on_paper
                        else CONFIRMATION_LABELS.get(r.branch_confirmation, "")
                    )
                    if r.kind == ContactKind.BRANCH_ACTIVITY
                    else ""
                ),
                problems=tuple(problems_by_record.get(r.id, ())),
            )
            for r in records
        ]
        points = [
            f"{POINT_KIND_LABELS.get(p.kind, p.kind)}：{_point_name(p)}"
            + (f"（{p.start_date:%m-%d}至{p.end_date:%m-%d}）" if p.start_date and p.end_date else "")
            for p in contact_points_of_year(self.session, self.institution_id, year.code, [person_id])
        ]
        duties: list[ArchiveDuty] = []
        semesters = [
            s
            for s in self.compliance.semesters()
            if academic_year_for(policy, s.week1_monday).code == year.code
        ]
        for sem in sorted(semesters, key=lambda s: s.week1_monday):
            pc = self.compliance.person(sem, person_id, system="contact")
            for r in pc.results if pc else []:
                duties.append(_duty(sem.code, policy, r))
        summary = SummaryService(self.session, self.institution_id).get(person_id, year.code)
        return ContactArchive(
            institution_name=inst.name if inst else "",
            academic_year=year.code,
            person_name=person.name,
            employee_no=person.employee_no,
            unit=person.unit.name if person.unit else "",
            party_member=person.party_member,
            points=points,
            duties=duties,
            records=entries,
            summary=summary,
            summary_submitted_on=local_day(summary.submitted_at, inst)
            if summary and summary.submitted_at
            else None,
            summary_received_on=local_day(summary.received_at, inst)
            if summary and summary.received_at
            else None,
            kind_counts=Counter(e.kind for e in entries).most_common(),
        )


def _point_name(p: Any) -> str:
    if p.unit is not None:
        return str(p.unit.name)
    if p.student_class is not None:
        return str(p.student_class.name)
    return str(p.label or "")


def _short(name: str, unit: str, r: RuleResult) -> ShortEntry:
    return ShortEntry(
        name,
        unit,
        r.rule_id,
        r.required,
        r.done,
        tuple(m.label for m in r.missing),
        r.explanation,
        dict(r.params),
    )


def _year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class ArchiveEntry:
    date: dt.date
    kind: str
    target: str
    place: str
    participants: int | None
    members: str
    author: str
    content: str
    opinions: str
    follow_up: str
    leader_opinion: str
    confirmation: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class ArchiveDuty:
    semester_code: str
    rule_id: str
    label: str
    required: int
    done: int
    status: str
    missing: str
    partial: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def _duty(code: str, policy: Policy, r: RuleResult) -> ArchiveDuty:
    return ArchiveDuty(
        code,
        r.rule_id,
        rule_label(policy.rule(r.rule_id)),
        r.required,
        r.done,
        r.status,
        "、".join(m.label for m in r.missing),
        r.partial,
    )


@dataclass
class ContactArchive:
    institution_name: str
    academic_year: str
    person_name: str
    employee_no: str
    unit: str
    party_member: bool
    points: list[str]
    duties: list[ArchiveDuty]
    records: list[ArchiveEntry]
    summary: ContactSummary | None
    summary_submitted_on: dt.date | None
    summary_received_on: dt.date | None
    kind_counts: list[tuple[str, int]]

    @property
    def summary_status(self) -> str:
        if self.summary is None:
            return "未撰写"
        if self.summary.status == SummaryStatus.SUBMITTED:
            return "已提交" + ("，学校办公室已接收" if self.summary_received_on else "")
        return "草稿（未提交）"


# -- suggestions -------------------------------------------------------------------------------------------
def _names(items: list[str], limit: int = 12) -> str:
    shown = "、".join(items[:limit])
    return shown + (f"等{len(items)}人" if len(items) > limit else "")


def suggestions(stats: ContactStatistics, deadline: dt.date) -> list[str]:
    """十三、工作建议, generated from the numbers so the section never contradicts the tables."""
    out: list[str] = []
    for g in stats.groups:
        short = sorted({e.name for e in g.short_list})
        if short:
            out.append(
                f"{g.label}中，{_names(short)}未全部完成本学期联系基层任务（明细见第二部分未完成名单）。"
                f"建议学校办公室向本人反馈、督促补齐，并按“三个纳入”要求记入干部考核。"
            )
    unvisited = [
        c for i, c in enumerate(stats.colleges) if not any((row.visits[i] or 0) for row in stats.coverage)
    ]
    if stats.coverage and unvisited:
        out.append(f"本学期{'、'.join(unvisited)}尚无校领导前往调研指导，建议联系校领导及时安排。")
    not_held = [row.name for row in stats.coverage if not row.colleges]
    if not_held:
        out.append(f"{_names(not_held)}本学年尚未确定联系院（部），请学校办公室尽快明确联系点。")
    pending = [
        a
        for a in stats.branch_activities
        if a.status == CONFIRMATION_LABELS[BranchConfirmation.PENDING.value]
    ]
    if pending:
        out.append(
            f"有{len(pending)}次党支部活动尚待支部书记确认参加情况，确认前不计入完成情况，请相关党支部及时记入《党支部工作手册》并在系统中确认。"
        )
    open_problems = [p for p in stats.problems if p.open]
    if open_problems:
        units = sorted({p.unit for p in open_problems})
        out.append(
            f"联系基层中发现的问题尚有{len(open_problems)}个正在处理，涉及{'、'.join(units)}，请责任单位尽快办结并反馈。"
        )
    if stats.summaries_due and stats.summaries_submitted < stats.summaries_due and deadline <= stats.end:
        out.append(
            f"年度联系基层工作总结应于{deadline:%Y年%m月%d日}前提交，"
            f"尚有{stats.summaries_due - stats.summaries_submitted}人未按时提交。"
        )
    rec = stats.outreach.reception
    if rec.weeks_missing:
        short_leaders = [r.name for r in rec.by_leader if r.missing]
        out.append(
            f"本学期接待日有{rec.weeks_missing}周未按时记录接待情况（{_names(short_leaders)}），"
            f"请学校办公室督促补记，无来访的周也应记录“本周无来访”。"
        )
    for figures, what in ((stats.outreach.letters, "校领导信箱来信"), (stats.outreach.proposals, "提案")):
        if figures.overdue_open:
            out.append(
                f"{what}尚有{figures.overdue_open}件超过办理期限未答复，请学校办公室加强督办，"
                f"承办单位尽快答复。"
            )
    waiting = sum(c.count for c in stats.outreach.proposals.by_status if c.name not in ("closed",))
    if waiting:
        out.append(f"本学期提案尚有{waiting}件未办结，请按“案案有着落、件件有交代”的要求办理答复。")
    prev = stats.previous
    now = stats.headline.figures
    if prev.records and now.records < prev.records:
        out.append(
            f"本学期联系基层记录{now.records}份，较上一学年同期（{prev.records}份）有所减少，建议加强过程督促。"
        )
    if not out:
        out.append("本学期各项联系基层任务完成良好，发现的问题均已及时处理，建议继续保持。")
    return out


# -- rendering ---------------------------------------------------------------------------------------------
def contact_report_html(stats: ContactStatistics, *, generated_on: dt.date | None = None) -> str:
    trend = stats.trend
    chart_rules = charts.bar_chart(
        [f"{r.rule_id} {r.label}" for r in stats.rule_summary],
        [r.ok / r.applicable if r.applicable else 0.0 for r in stats.rule_summary],
        title="各条规定完成率",
        percent=True,
        max_value=1.0,
    )
    chart_trend = charts.line_chart(
        [f"{int(m.month[5:7])}月" for m in trend],
        [
            ("联系记录", [float(m.records) for m in trend]),
            ("调研指导", [float(m.visits) for m in trend]),
            ("支部活动", [float(m.branch_activities) for m in trend]),
        ],
        title="月度联系基层趋势",
    )
    return render_template(
        "reports/contact_report.html",
        s=stats,
        sections=SECTIONS,
        charts={"rules": chart_rules, "trend": chart_trend},
        generated_on=generated_on or stats.as_of,
        rule_labels={r.rule_id: r.label for r in stats.rule_summary},
        words={
            "identity": IDENTITY_LABELS,
            "visit_outcome": VISIT_OUTCOME_LABELS,
            "status": FOLLOW_UP_STATUS_LABELS,
            "outcome": FOLLOW_UP_OUTCOME_LABELS,
            "timeliness": TIMELINESS_LABELS,
            "satisfaction": SATISFACTION_LABELS,
        },
    )


def contact_archive_html(a: ContactArchive, *, generated_on: dt.date) -> str:
    return render_template("reports/contact_archive.html", a=a, generated_on=generated_on)


def report_filename(stats: ContactStatistics) -> str:
    return f"领导干部联系基层制度执行情况报告-{stats.semester_code}.pdf"


@register_builder("contact_report")
def build_contact_report(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    """联系基层制度执行情况报告: the numbers, charts, layout, PDF."""
    if run.semester_id is None:
        raise ValueError("a contact report needs a semester")
    service = ContactReportService(session, run.institution_id)
    semester = service.compliance.semester(run.semester_id)
    progress(5, "统计联系基层情况")
    stats = service.statistics(semester)
    progress(55, "绘制图表与版面")
    html = contact_report_html(stats)
    progress(65, "排版")
    pdf = render_pdf(html, on_step=lambda _step: progress(90, "写入 PDF"))
    return report_filename(stats), pdf


@register_builder("contact_archive")
def build_contact_archive(
    session: Session, run: ReportRun, progress: RunProgress
) -> tuple[str, bytes | None]:
    """A leader's contact archive (联系基层工作档案) of the academic year of the run's semester (C-7a)."""
    if run.semester_id is None or run.person_id is None:
        raise ValueError("a contact archive needs a semester and a person")
    service = ContactReportService(session, run.institution_id)
    semester = service.compliance.semester(run.semester_id)
    progress(10, "读取联系记录")
    archive = service.archive(run.person_id, semester)
    inst = session.get(Institution, run.institution_id)
    progress(50, "排版")
    pdf = render_pdf(
        contact_archive_html(archive, generated_on=clock.today(inst)),
        on_step=lambda _s: progress(90, "写入 PDF"),
    )
    return f"联系基层工作档案-{archive.person_name}-{archive.academic_year}.pdf", pdf
