"""The periodic bulletin (通报, O-15): compliance so far, who is short, typical problems and their handling.

The quality center publishes one whenever it wants to report progress (e.g. at the reminder checkpoints);
each is a worker-built PDF numbered in sequence (第N期) and kept with its date in the reports list. It
reads the same statistics as the execution report, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.pdf import render_pdf, render_template
from lti_tool.reports.report import missing_units, policy_title, semester_label
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import ReportKind, RunProgress
from lti_tool.reports.statistics import SemesterStatistics, StatisticsService
from lti_tool.tenancy import Institution


def bulletin_number(session: Session, run: ReportRun) -> int:
    """第N期: bulletins of the institution already published before this one, plus one."""
    earlier = session.scalar(
        select(func.count())
        .select_from(ReportRun)
        .where(
            ReportRun.institution_id == run.institution_id,
            ReportRun.kind == ReportKind.BULLETIN,
            ReportRun.status == RunStatus.SUCCEEDED,
            ReportRun.id < run.id,
        )
    )
    return int(earlier or 0) + 1


def bulletin_html(stats: SemesterStatistics, number: int, issued_on: dt.date, week: int | None) -> str:
    categories = sorted(stats.problems.by_category, key=lambda c: -c.count)[:5]
    typical = sorted(stats.problems.items, key=lambda p: (not p.overdue, -p.days_open))[:12]
    return render_template(
        "reports/bulletin.html",
        s=stats,
        number=number,
        issued_on=issued_on,
        week=week,
        semester_label=semester_label(stats.semester_code),
        short=stats.short_people(),
        policy_title=policy_title(stats.policy_name, stats.institution_name),
        missing_units=missing_units(stats),
        rule_labels={r.rule_id: r.label for r in stats.rule_summary},
        categories=categories,
        typical=typical,
    )


@register_builder(ReportKind.BULLETIN)
def build_bulletin(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    if run.semester_id is None:
        raise ValueError("a bulletin needs a semester")
    service = StatisticsService(session, run.institution_id)
    semester = service.compliance.semester(run.semester_id)
    progress(5, "读取统计数据")
    stats = service.fresh_statistics(semester, lambda p, m: progress(5 + p * 60 // 100, m))
    issued_on = clock.today(session.get(Institution, run.institution_id))
    week = semester.week_of(issued_on) if semester.start_date <= issued_on <= semester.end_date else None
    number = bulletin_number(session, run)
    progress(70, "排版")
    pdf = render_pdf(bulletin_html(stats, number, issued_on, week))
    return f"领导干部听课情况通报-{stats.semester_code}-第{number}期.pdf", pdf
