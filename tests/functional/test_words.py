"""Words a person understands (issue 11 §5): statuses, yes/no and rule IDs as words on pages and in exports;
exports with dates as dates, readable widths, a filter, drafts only when asked for."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl

from tests.functional.observations import test_workflow as flow
from tests.functional.observations.test_workflow import OBSERVER, QC, _save, _start, _submitted
from tests.support.worlds import MONDAY_W3

world, as_user = flow.world, flow.as_user  # the workflow tests' fixtures


def test_rule_ids_come_with_what_they_ask(world, as_user) -> None:  # type: ignore[no-untyped-def]
    home = as_user(OBSERVER).get("/home").get_data(as_text=True)
    assert "O-1 每学期至少听2次课" in home
    dashboard = as_user(QC).get("/policy/").get_data(as_text=True)
    assert "O-1 每学期至少听2次课" in dashboard


def test_excel_export_has_words_dates_widths_a_filter_and_no_drafts_unless_asked(world, as_user) -> None:  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    _submitted(observer, world)
    draft = _start(observer, world.session_w3.id)
    _save(observer, draft, {"narrative": "还在写的草稿"}, 0)
    qc = as_user(QC)

    book = openpyxl.load_workbook(io.BytesIO(qc.get("/observations/export.xlsx").get_data()))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1  # the draft is left out
    row = dict(zip(header, rows[0], strict=False))
    assert row["状态"] == "已提交" and row["教学督导"] == "否" and row["课后与教师交流"] == "是"
    assert isinstance(row["日期"], dt.datetime) and row["日期"].date() == world.session_w1.date
    assert sheet.cell(row=2, column=header.index("日期") + 1).number_format == "yyyy-mm-dd"
    assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:")
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 8
    narrative = header.index("教学过程记录") + 1
    assert sheet.column_dimensions[openpyxl.utils.get_column_letter(narrative)].width >= 30

    with_drafts = openpyxl.load_workbook(io.BytesIO(qc.get("/observations/export.xlsx?drafts=1").get_data()))
    statuses = [r[header.index("状态")] for r in with_drafts.active.iter_rows(min_row=2, values_only=True)]
    assert sorted(statuses) == ["已提交", "草稿"]

    text = qc.get("/observations/export.csv").get_data().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    record = dict(zip(lines[0], lines[1], strict=False))
    assert (
        len(lines) == 2 and record["状态"] == "已提交" and record["日期"] == world.session_w1.date.isoformat()
    )
    assert "submitted" not in text and ",no," not in text and ",yes," not in text
    assert MONDAY_W3.isoformat() not in text
