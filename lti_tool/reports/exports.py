"""Excel export for the organization department's annual cadre assessment (O-15, 五.1).

Per cadre, both semesters of the academic year of the requested semester (``2026-2027-1`` and
``2026-2027-2`` share the prefix ``2026-2027``), each rule with required, done and status — judged by
``ComplianceService``, the same judgement as the pages and the execution report.

Cells are safe: every text is written as an explicit string cell, and a text starting with
``= + - @`` or a control character gets a leading apostrophe, so a name or unit typed as ``=HYPERLINK(…)``
never becomes a formula in Excel, nor after a save-as-CSV (docs/stack-notes.md §9, docs/decisions.md I-3).
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.compliance.rules import NOT_APPLICABLE, SHORT
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.reports.models import ReportRun
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import RunProgress
from lti_tool.reports.statistics import RULE_STATUS_LABELS, StatisticsService
from lti_tool.timetable.models import Semester

SYSTEM_TITLES = {"observation": "听课任务全部完成", "contact": "联系基层任务全部完成"}
"""Per semester, besides 全部完成: each system's duties on their own (附件2 听课, 附件1 联系基层)."""
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
HEAD_FILL = PatternFill("solid", fgColor="F1E6E6")
SHORT_FONT = Font(color="B33A3A", bold=True)


def safe_text(value: object) -> str:
    """Text for a cell: a leading formula character is neutralised with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


def put(ws: Worksheet, row: int, col: int, value: object) -> Any:
    """Write one cell: ints and floats as numbers, everything else as an explicit string cell."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, bool) or value is None:
        cell.value = safe_text("是" if value else "") if isinstance(value, bool) else None
        if value is not None:
            cell.data_type = "s"
    elif isinstance(value, int | float):
        cell.value = value
    else:
        cell.value = safe_text(value)
        cell.data_type = "s"
    return cell


def academic_year(code: str) -> str:
    """``2026-2027-1`` → ``2026-2027`` (a code without a term suffix is its own year)."""
    head, sep, tail = code.rpartition("-")
    return head if sep and tail.isdigit() and len(tail) == 1 else code


def year_semesters(session: Session, institution_id: int, semester: Semester) -> list[Semester]:
    year = academic_year(semester.code)
    rows = session.scalars(
        select(Semester).where(Semester.institution_id == institution_id).order_by(Semester.week1_monday)
    ).all()
    return [s for s in rows if academic_year(s.code) == year] or [semester]


def cadre_workbook(reports: list[ComplianceReport]) -> bytes:
    """Two sheets: 汇总 (one row per cadre, per semester × rule: 要求/完成/状态) and 明细 (one row per
    cadre × semester × rule with what is missing)."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "汇总"
    detail = wb.create_sheet("明细")

    # Columns: the rules each semester actually applied to somebody, in policy order.
    columns: list[tuple[ComplianceReport, str, str]] = []
    for report in reports:
        used = {r.rule_id for r in report.results}
        for rule in report.policy.rules:
            if rule.id in used:
                columns.append((report, rule.id, StatisticsService.rule_label(rule)))
    people: dict[int, dict[str, Any]] = {}
    for report in reports:
        for p in report.persons:
            entry = people.setdefault(
                p.person_id,
                {
                    "employee_no": p.employee_no,
                    "name": p.name,
                    "unit": p.unit_name,
                    "positions": {},
                    "by": {},
                },
            )
            for pos in p.positions:
                entry["positions"][pos.name] = True
            entry["by"][report.semester_code] = p

    fixed = ["工号", "姓名", "单位", "职务"]
    for c, title in enumerate(fixed, start=1):
        put(summary, 1, c, title)
        summary.merge_cells(start_row=1, start_column=c, end_row=2, end_column=c)
    col = len(fixed) + 1
    for report in reports:
        for title in ("全部完成", *SYSTEM_TITLES.values()):
            put(summary, 1, col, f"{report.semester_code} {title}")
            summary.merge_cells(start_row=1, start_column=col, end_row=2, end_column=col)
            col += 1
    for report, rule_id, label in columns:
        put(summary, 1, col, f"{report.semester_code} {rule_id} {label}")
        summary.merge_cells(start_row=1, start_column=col, end_row=1, end_column=col + 2)
        for k, sub in enumerate(("要求", "完成", "状态")):
            put(summary, 2, col + k, sub)
        col += 3
    for row in summary.iter_rows(min_row=1, max_row=2):
        for cell in row:
            cell.font = Font(bold=True)
            cell.fill = HEAD_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)

    r = 3
    for entry in sorted(people.values(), key=lambda e: e["employee_no"]):
        put(summary, r, 1, entry["employee_no"])
        put(summary, r, 2, entry["name"])
        put(summary, r, 3, entry["unit"])
        put(summary, r, 4, "、".join(entry["positions"]))
        c = len(fixed) + 1
        for report in reports:
            pc = entry["by"].get(report.semester_code)
            flags: list[bool | None] = [None if pc is None else pc.compliant]
            for system in SYSTEM_TITLES:
                ids = {rule.id for rule in report.policy.rules if rule.system == system}
                own = [x for x in (pc.results if pc else []) if x.rule_id in ids]
                flags.append(not any(x.status == SHORT and not x.informative for x in own) if own else None)
            for flag in flags:
                put(summary, r, c, "—" if flag is None else ("是" if flag else "否"))
                if flag is False:
                    summary.cell(row=r, column=c).font = SHORT_FONT
                c += 1
        for report, rule_id, _label in columns:
            pc = entry["by"].get(report.semester_code)
            result = pc.result(rule_id) if pc is not None else None
            if result is None:
                for k in range(3):
                    put(summary, r, c + k, "—")
            else:
                put(summary, r, c, result.required)
                put(summary, r, c + 1, result.done)
                cell = put(summary, r, c + 2, _status(result))
                if result.status == SHORT and not result.informative:
                    cell.font = SHORT_FONT
            c += 3
        r += 1
    summary.freeze_panes = "C3"
    for c in range(1, col):
        summary.column_dimensions[get_column_letter(c)].width = 12 if c > 4 else 16
    summary.auto_filter.ref = f"A2:{get_column_letter(col - 1)}{max(r - 1, 2)}"

    heads = [
        "学期",
        "工号",
        "姓名",
        "单位",
        "条目",
        "要求说明",
        "应完成",
        "已完成",
        "状态",
        "部分任期",
        "尚缺",
        "依据",
    ]
    for c, title in enumerate(heads, start=1):
        cell = put(detail, 1, c, title)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
    r = 2
    for report in reports:
        labels = {rule.id: StatisticsService.rule_label(rule) for rule in report.policy.rules}
        for p in report.persons:
            for result in p.results:
                values = [
                    report.semester_code,
                    p.employee_no,
                    p.name,
                    p.unit_name,
                    result.rule_id,
                    labels.get(result.rule_id, ""),
                    result.required,
                    result.done,
                    _status(result),
                    "是" if result.partial else "",
                    "、".join(m.label for m in result.missing),
                    result.source,
                ]
                for c, value in enumerate(values, start=1):
                    put(detail, r, c, value)
                r += 1
    detail.freeze_panes = "A2"
    for c, width in enumerate((12, 10, 10, 18, 7, 22, 8, 8, 8, 8, 40, 40), start=1):
        detail.column_dimensions[get_column_letter(c)].width = width
    detail.auto_filter.ref = f"A1:{get_column_letter(len(heads))}{max(r - 1, 1)}"
    for row in detail.iter_rows(min_row=2, min_col=11, max_col=12):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _status(result: Any) -> str:
    if result.informative:
        if result.status == NOT_APPLICABLE:
            return "不适用"
        return "低于目标" if result.below_target else "参考"
    return RULE_STATUS_LABELS.get(result.status, result.status)


@register_builder("cadre_excel")
def build_cadre_excel(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    """干部听课考核表 for the academic year of the run's semester (O-15)."""
    if run.semester_id is None:
        raise ValueError("a cadre export needs a semester")
    service = ComplianceService(session, run.institution_id)
    semester = service.semester(run.semester_id)
    semesters = year_semesters(session, run.institution_id, semester)
    reports = []
    for i, sem in enumerate(semesters):
        progress(10 + 60 * i // len(semesters), f"核算 {sem.code}")
        reports.append(service.evaluate(sem))
    progress(80, "生成 Excel")
    return f"干部听课考核-{academic_year(semester.code)}.xlsx", cadre_workbook(reports)
