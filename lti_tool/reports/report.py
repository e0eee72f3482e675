"""The PDF builders (run by the worker): the execution report (O-14) and a person's observation archive.

PDF = numbers → Jinja → WeasyPrint (docs/decisions.md W-5). The execution report reads the
semester's statistics snapshot when it is fresh (or frozen with the archived semester) and recomputes
it otherwise, so the PDF, the dashboards and the Excel export show the same numbers. Charts are SVG
drawn by ``reports.charts`` from the same dataclasses; the work-suggestions section (九、工作建议) is
generated from the numbers (who is short, overdue problems, uncovered teachers …), never typed in.

Both builders report progress in real steps: statistics, charts, layout, PDF writing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool import clock
from lti_tool.compliance.services import ComplianceService
from lti_tool.directory.models import Person
from lti_tool.errors import NotFound
from lti_tool.observations.models import (
    COUNTED_MEMBER_STATUSES,
    Observation,
    ObservationMember,
    ObservationStatus,
)
from lti_tool.problems.photos import PhotoService
from lti_tool.reports import charts
from lti_tool.reports.models import ReportRun
from lti_tool.reports.pdf import render_pdf, render_template
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import RunProgress
from lti_tool.reports.statistics import (
    RULE_STATUS_LABELS,
    Headline,
    SemesterStatistics,
    StatisticsService,
    _aware,
    _load,
)
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, CourseSection, Semester, SemesterEvent, SemesterStatus

SECTIONS = (
    ("s1", "一、总体情况"),
    ("s2", "二、各类人员履职情况"),
    ("s3", "三、思政课听课情况"),
    ("s4", "四、马克思主义学院任期覆盖情况"),
    ("s5", "五、课堂教学评价情况"),
    ("s6", "六、听课反馈问题及处理情况"),
    ("s7", "七、月度趋势"),
    ("s8", "八、与上学期对比"),
    ("s9", "九、工作建议"),
)
CHINESE_ORDINALS = "一二三四"


def semester_label(code: str) -> str:
    """``2026-2027-1`` → ``2026—2027学年第一学期``; other codes are shown as they are."""
    m = re.fullmatch(r"(\d{4})-(\d{4})-([1-4])", code.strip())
    if not m:
        return code
    return f"{m[1]}—{m[2]}学年第{CHINESE_ORDINALS[int(m[3]) - 1]}学期"


def comparison_rows(now: Headline, before: Headline) -> list[tuple[str, Any, Any, bool]]:
    """八、与上学期对比: (label, previous, current, is_rate) per headline figure."""
    return [
        ("承担听课（巡查）任务的领导干部（人）", before.observers_with_duty, now.observers_with_duty, False),
        ("有听课记录的领导干部（人）", before.observers_active, now.observers_active, False),
        ("听课记录（份）", before.observations, now.observations, False),
        ("听课人次", before.observer_counts, now.observer_counts, False),
        ("覆盖课堂（节次）", before.sessions_covered, now.sessions_covered, False),
        ("被听课教师（人）", before.teachers_covered, now.teachers_covered, False),
        ("未被听课的教师（人）", before.teachers_never_observed, now.teachers_never_observed, False),
        ("课堂巡查（次）", before.patrols, now.patrols, False),
        ("反馈问题（个）", before.problems, now.problems, False),
        ("授课教师覆盖率", before.teacher_coverage, now.teacher_coverage, True),
        ("履职完成率", before.compliance_rate, now.compliance_rate, True),
    ]


def _names(items: list[str], limit: int = 12) -> str:
    shown = "、".join(items[:limit])
    return shown + (f"等{len(items)}人" if len(items) > limit else "")


MISSING_UNITS = {"each_course": "门", "tenure_coverage": "人", "per_month": "个月"}
"""The measure word of a rule's 尚缺 list by the rule's kind: courses, teachers, months (项 otherwise)."""


def missing_units(stats: SemesterStatistics) -> dict[str, str]:
    return {r.rule_id: MISSING_UNITS.get(r.kind, "项") for r in stats.rule_summary}


def in_progress(stats: SemesterStatistics) -> bool:
    """The numbers speak for a day before the semester's last: no end-of-term conclusions."""
    return stats.as_of < stats.end


def as_of_phrase(stats: SemesterStatistics, week: int | None = None) -> str:
    """``截至2026年11月20日（第11周）``: the day the numbers speak for, and its teaching week."""
    day = dt.date.fromisoformat(stats.as_of)
    return f"截至{day.year}年{day.month}月{day.day}日" + (f"（第{week}周）" if week else "")


_FOREIGN_PREFIX = re.compile(r"^.+?(?:大学|学院|学校)(?=\S)")
_DOCUMENT_NUMBER = re.compile(r"（[^（）]*〔\d{4}〕[^（）]*号）$")


def policy_title(policy_name: str, institution_name: str) -> str:
    """The policy as this institution's report names it. A policy adopted from another college keeps that
    college's name and document number in its title (the default policy is 吉林交通职业技术学院's); the
    report speaks of 学校《领导干部听课制度》 then, never of another institution."""
    name = (policy_name or "").strip()
    if not name:
        return "领导干部听课制度"
    if institution_name and name.startswith(institution_name):
        return name
    return _DOCUMENT_NUMBER.sub("", _FOREIGN_PREFIX.sub("", name)).strip() or "领导干部听课制度"


def suggestions(stats: SemesterStatistics) -> list[str]:
    """九、工作建议, generated from the numbers so the section never contradicts the tables. Before the
    semester's last day the advice is about the weeks left, not the next semester or the assessment."""
    out: list[str] = []
    h = stats.headline
    running = in_progress(stats)
    for group in stats.groups:
        short = sorted({(s.name, s.employee_no) for s in group.short_list}, key=lambda x: x[1])
        if short and running:
            out.append(
                f"{group.label}中，{_names([n for n, _ in short])}{as_of_phrase(stats)}尚未完成本学期听课任务"
                f"（明细见第二部分未完成名单）。建议提醒本人在本学期余下的教学周内合理安排、按时完成。"
            )
        elif short:
            out.append(
                f"{group.label}中，{_names([n for n, _ in short])}未全部完成本学期听课任务"
                f"（明细见第二部分未完成名单）。建议向本人反馈并督促在下学期优先补齐，"
                f"履职情况按制度纳入年度考核。"
            )
    for matrix in stats.ideological:
        gaps = [r.name for r in matrix.rows if r.status == "short"]
        if gaps:
            out.append(
                f"思政课听课方面，{_names(gaps)}{'目前' if running else ''}尚未实现对每门思想政治理论课必修课"
                f"至少听课1次，建议教学质量监控与评价中心提前推送思政课课表，协助安排听课。"
            )
    uncovered = [t for t in stats.tenure if t.missing]
    if uncovered:
        parts = [f"{t.name}（已覆盖{t.observed}/{t.teaching}人）" for t in uncovered]
        out.append(
            f"马克思主义学院领导班子成员{'、'.join(parts)}任期内尚未实现对全部授课教师听课全覆盖，"
            f"建议按未覆盖教师名单制订听课计划，在任期内完成。"
        )
    if h.teachers_never_observed and running:
        out.append(
            f"{as_of_phrase(stats)}，有{h.teachers_never_observed}名授课教师尚未被听课，"
            f"建议在本学期余下的教学周内优先安排对上述教师（特别是新入职和青年教师）的听课。"
        )
    elif h.teachers_never_observed:
        out.append(
            f"本学期有{h.teachers_never_observed}名授课教师未被听课，"
            f"建议下学期优先安排对上述教师（特别是新入职和青年教师）的听课。"
        )
    pr = stats.problems
    if pr.overdue:
        units = sorted({i.unit for i in pr.items if i.overdue})
        out.append(
            f"听课和巡查反馈的问题中，有{pr.overdue}个超过{pr.overdue_days}天仍未办结，"
            f"涉及{'、'.join(units)}。请责任单位尽快处理并反馈处理情况，做到“迅速解决”。"
        )
    elif pr.open:
        out.append(f"尚有{pr.open}个反馈问题正在处理中，请责任单位及时办结并反馈处理情况。")
    rated = [d for d in stats.ratings.dimensions if d.average is not None]
    if len(rated) > 1:
        weakest = min(rated, key=lambda d: d.average or 0.0)
        full = f"，满分{max(stats.ratings.scale_scores)}分" if stats.ratings.scale_scores else ""
        out.append(
            f"从课堂教学评价看，“{weakest.label}”维度平均得分（{weakest.average:.2f}分{full}）相对较低，"
            f"建议相关教学单位在教研活动中重点研讨改进。"
        )
    total = sum(m.observations for m in stats.trend)
    if total >= 10 and stats.trend and not running:
        last = stats.trend[-1]
        if last.observations / total > 0.4:
            out.append(
                f"听课时间分布不均衡，{int(last.month[5:7])}月听课记录占全学期的"
                f"{last.observations * 100 / total:.0f}%，建议按教学进度在学期中均衡安排听课。"
            )
    previous = stats.previous
    if not running and previous and previous.observations and h.observations < previous.observations:
        out.append(
            f"本学期听课记录{h.observations}份，较上学期（{previous.observations}份）有所减少，"
            f"建议加强过程督促。"
        )
    if not out and running:
        out.append(f"{as_of_phrase(stats)}，各项听课任务进展正常，反馈问题均已及时处理，建议继续保持。")
    elif not out:
        out.append("本学期各项听课任务完成良好，反馈问题均已及时处理，建议继续保持。")
    return out


def execution_report_html(
    stats: SemesterStatistics,
    *,
    generated_on: dt.date | None = None,
    rule_labels: dict[str, str] | None = None,
    as_of_week: int | None = None,
    photos: dict[int, list[str]] | None = None,
) -> str:
    """The execution report's HTML (autoescaped); the charts are SVG built from ``stats``.

    ``photos``: each listed problem's first thumbnails as ``data:`` URIs (lti_tool/problems/photos.py), so
    the PDF's fetcher still fetches nothing (docs/decisions.md W-5).

    ``as_of_week`` is the teaching week of ``stats.as_of``: a report made before the semester's last day
    says so ("截至 2026年11月20日（第11周）") and draws no end-of-term conclusions."""
    previous = stats.previous
    return render_template(
        "reports/execution_report.html",
        s=stats,
        photos=photos or {},
        charts=charts.report_charts(stats),
        semester_label=semester_label(stats.semester_code),
        sections=SECTIONS,
        generated_on=generated_on or clock.today(),
        rule_labels=rule_labels or {r.rule_id: r.label for r in stats.rule_summary},
        previous_label=semester_label(previous.semester_code) if previous else "",
        comparison=comparison_rows(stats.headline, previous) if previous else [],
        suggestions=suggestions(stats),
        in_progress=in_progress(stats),
        as_of=as_of_phrase(stats, as_of_week),
        policy_title=policy_title(stats.policy_name, stats.institution_name),
        missing_units=missing_units(stats),
        scale_points="、".join(
            f"{label}{score}分"
            for label, score in zip(stats.ratings.scale_labels, stats.ratings.scale_scores, strict=False)
        ),
        full_score=max(stats.ratings.scale_scores, default=None),
    )


def report_filename(stats: SemesterStatistics, version: int | None = None) -> str:
    suffix = f"-第{version}版" if version else ""
    return f"领导干部听课制度执行情况报告-{stats.semester_code}{suffix}.pdf"


def report_date(session: Session, run: ReportRun, semester: Semester) -> dt.date:
    """The date an execution report speaks for: an archived semester's close (the version's, for a frozen
    run), else the college's today. An archived semester's report rebuilt later, or from a restored
    backup, is then the same PDF byte for byte (WeasyPrint's output depends on nothing else)."""
    institution = session.get(Institution, run.institution_id)
    if semester.status == SemesterStatus.ARCHIVED:
        closes = select(SemesterEvent.at).where(
            SemesterEvent.semester_id == semester.id, SemesterEvent.action == "close"
        )
        if run.frozen:
            closes = closes.where(SemesterEvent.version == run.version)
        closed_at = session.scalars(closes.order_by(SemesterEvent.version.desc())).first()
        if closed_at is not None:
            return clock.local(closed_at, institution).date()
    return clock.today(institution)


@register_builder("execution_report")
def build_execution_report(
    session: Session, run: ReportRun, progress: RunProgress
) -> tuple[str, bytes | None]:
    """领导干部听课制度执行情况报告: the snapshot (or fresh statistics), charts, layout, PDF."""
    if run.semester_id is None:
        raise ValueError("an execution report needs a semester")
    service = StatisticsService(session, run.institution_id)
    semester = service.compliance.semester(run.semester_id)
    progress(3, "读取统计数据")
    scaled = lambda p, m: progress(3 + p * 55 // 100, m)  # noqa: E731 - statistics' steps within 3…58 %
    if run.frozen:
        # The archive's version: the frozen snapshot queued with this close (same request), else numbers
        # computed now from the locked records.
        row = service.latest_snapshot(semester.id, frozen=True)
        stored = _load(row) if row is not None and _aware(row.computed_at) >= _aware(run.created_at) else None
        stats = stored or service.compute(semester, scaled)
    else:
        stats = service.fresh_statistics(semester, scaled)
    progress(60, "绘制图表与版面")
    as_of = dt.date.fromisoformat(stats.as_of)
    week = semester.week_of(as_of) if semester.start_date <= as_of <= semester.end_date else None
    photos = PhotoService(session, run.institution_id).thumbnails_as_data_uris(
        [i.id for i in stats.problems.items]
    )
    html = execution_report_html(
        stats, generated_on=report_date(session, run, semester), as_of_week=week, photos=photos
    )
    progress(68, "排版")
    pdf = render_pdf(html, on_step=lambda _step: progress(90, "写入 PDF"))
    return report_filename(stats, run.version if run.frozen else None), pdf


# -- personal archive ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveRating:
    label: str
    level: str
    comment: str


@dataclass(frozen=True)
class ArchiveRecord:
    date: dt.date
    time: str
    course: str
    teachers: str
    classes: str
    room: str
    role: str
    members: str
    arrival: str
    late: bool
    supervision: bool
    attendance: str
    ratings: tuple[ArchiveRating, ...]
    narrative: str
    strengths: str
    problems: str
    suggestions: str
    exchange_teacher: str
    exchange_students: str
    teacher_reply: str


@dataclass
class Archive:
    institution_name: str
    semester_code: str
    semester_label: str
    person_name: str
    employee_no: str
    unit: str
    positions: list[str] = field(default_factory=list)
    compliance: list[dict[str, Any]] = field(default_factory=list)
    records: list[ArchiveRecord] = field(default_factory=list)


def _exchange(done: bool | None, at: dt.datetime | None, text: str, tz: ZoneInfo) -> str:
    if done is None and not text:
        return ""
    head = "已交流" if done else ("未交流" if done is False else "")
    when = clock.local(at, tz).strftime("%Y-%m-%d %H:%M") if at else ""
    return "　".join(x for x in (head, when, text.strip()) if x)


def build_archive(session: Session, institution_id: int, semester: Semester, person: Person) -> Archive:
    """One observer's submitted records of the semester (theirs or co-signed) and their compliance."""
    compliance = ComplianceService(session, institution_id)
    pc = compliance.person(semester, person.id, system="observation")
    policy, _ = compliance.policy_for(semester)
    scale = {c.code: c.label for c in policy.scale}
    dims = {d.code: d.label for d in policy.dimensions}
    inst = session.get(Institution, institution_id)
    tz = clock.zone(inst)
    archive = Archive(
        inst.name if inst else "",
        semester.code,
        semester_label(semester.code),
        person.name,
        person.employee_no,
        person.unit.name if person.unit else "",
    )
    if pc is not None:
        archive.positions = [p.name + ("（部分任期）" if p.partial else "") for p in pc.positions]
        for r in pc.results:
            rule = policy.rule(r.rule_id)
            archive.compliance.append(
                {
                    "rule_id": r.rule_id,
                    "label": StatisticsService.rule_label(rule),
                    "required": r.required,
                    "done": r.done,
                    "status": r.status,
                    "status_label": ("参考" if r.informative else RULE_STATUS_LABELS.get(r.status, r.status)),
                    "missing": [m.label for m in r.missing],
                    "partial": r.partial,
                    "share": r.share,
                    "informative": r.informative,
                }
            )
    member = ObservationMember
    observations = session.scalars(
        select(Observation)
        .join(member, member.observation_id == Observation.id)
        .join(ClassSession, ClassSession.id == Observation.session_id)
        .where(
            Observation.institution_id == institution_id,
            member.person_id == person.id,
            member.status.in_(COUNTED_MEMBER_STATUSES),
            Observation.status == ObservationStatus.SUBMITTED.value,
            ClassSession.date >= semester.start_date,
            ClassSession.date <= semester.end_date,
        )
        .order_by(ClassSession.date, ClassSession.period_start, Observation.id)
        .options(
            selectinload(Observation.ratings),
            selectinload(Observation.members),
            selectinload(Observation.session)
            .selectinload(ClassSession.section)
            .selectinload(CourseSection.teachers),
        )
    ).unique()
    for o in observations:
        cs = o.session
        section = cs.section
        me = next((m for m in o.members if m.person_id == person.id), None)
        others = [
            m.person.name
            for m in o.members
            if m.person_id != person.id and m.status in COUNTED_MEMBER_STATUSES
        ]
        time = (
            f"{cs.starts_at:%H:%M}–{cs.ends_at:%H:%M}" if cs.starts_at and cs.ends_at else ""
        ) + f"（第{cs.period_start}–{cs.period_end}节）"
        attendance = (
            f"应到 {o.expected_count} 人，实到 {o.present_count} 人"
            if o.expected_count is not None and o.present_count is not None
            else ""
        )
        archive.records.append(
            ArchiveRecord(
                date=cs.date,
                time=time,
                course=f"{section.course.name}（{section.course.code}）",
                teachers="、".join(t.name for t in section.teachers),
                classes=section.classes.replace(";", "、"),
                room=cs.room or section.room,
                role="执笔人" if me is not None and me.role == "author" else "集体听课成员",
                members="、".join(others),
                arrival=f"{o.arrival_time:%H:%M}" if o.arrival_time else "",
                late=o.arrived_late,
                supervision=o.is_supervision,
                attendance=attendance,
                ratings=tuple(
                    ArchiveRating(
                        dims.get(r.dimension, r.dimension),
                        scale.get(r.rating or "", r.rating or "—"),
                        r.comment,
                    )
                    for r in o.ratings
                ),
                narrative=o.narrative,
                strengths=o.strengths,
                problems=o.problems_text,
                suggestions=o.suggestions,
                exchange_teacher=_exchange(
                    o.exchange_teacher_done, o.exchange_teacher_at, o.exchange_teacher_text, tz
                ),
                exchange_students=_exchange(
                    o.exchange_students_done, o.exchange_students_at, o.exchange_students_text, tz
                ),
                teacher_reply=o.teacher_reply,
            )
        )
    return archive


@register_builder("personal_archive")
def build_personal_archive(
    session: Session, run: ReportRun, progress: RunProgress
) -> tuple[str, bytes | None]:
    """个人听课档案: one observer's records of the semester with ratings, narratives, exchanges, replies."""
    if run.semester_id is None or run.person_id is None:
        raise ValueError("a personal archive needs a semester and a person")
    person = session.get(Person, run.person_id)
    if person is None or person.institution_id != run.institution_id:
        raise NotFound("No such person.")
    semester = ComplianceService(session, run.institution_id).semester(run.semester_id)
    progress(10, "读取听课记录")
    archive = build_archive(session, run.institution_id, semester, person)
    progress(40, "排版")
    html = render_template(
        "reports/personal_archive.html",
        a=archive,
        generated_on=clock.today(session.get(Institution, run.institution_id)),
    )
    pdf = render_pdf(html, on_step=lambda _step: progress(85, "写入 PDF"))
    return f"个人听课档案-{person.name}-{semester.code}.pdf", pdf
