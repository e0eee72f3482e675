"""Words a person understands (issue 11 §5): statuses, yes/no and rule IDs as words on pages and in exports;
exports with dates as dates, readable widths, a filter, drafts only when asked for."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import email
import email.policy
import io
import re
from pathlib import Path

import openpyxl

from lti_tool.mail import Mailer
from lti_tool.policy.schema import default_policy
from lti_tool.reminders.services import Checkpoint, ReminderService, checkpoint_due_at
from lti_tool.reports.cadre_file import CadreFileService, workbook, year_of_period
from lti_tool.timetable.models import Semester
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


# -- beyond pages: the cadre file, the reminder e-mail, English data labels --------------------------------
INTERNAL_WORDS = re.compile(
    r"\b(True|False|None|yes|no|ok|short|not_applicable|informative|submitted|draft|new|accepted|resolved|"
    r"confirmed|rejected|school_leader|college_dean|school_leaders|min_count|each_course|per_month)\b"
)


def test_cadre_file_speaks_words_with_filters_and_rule_meanings(world, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        cf = CadreFileService(s, world.institution_id).build(year_of_period("ay:2026-2027"))
        book = openpyxl.load_workbook(io.BytesIO(workbook(cf, "zh_CN")))
    assert book.sheetnames == ["汇总", "听课任务", "联系基层任务", "说明"]
    for sheet in book.worksheets[:3]:
        assert sheet.auto_filter.ref, sheet.title  # a filter on every table
    for sheet in book.worksheets:
        texts = [str(v) for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str)]
        leaked = [t for t in texts if INTERNAL_WORDS.search(t)]
        assert not leaked, (sheet.title, leaked[:5])
    detail = book["听课任务"]
    head = [c.value for c in detail[1]]
    rows = [dict(zip(head, r, strict=False)) for r in detail.iter_rows(min_row=2, values_only=True)]
    assert rows and all(r["要求"] and r["条目"] for r in rows)  # each rule ID sits beside what it asks
    assert {r["状态"] for r in rows} <= {"已完成", "未完成", "不适用", "参考", "低于目标"}
    assert detail.column_dimensions["L"].width >= 30


def test_reminder_email_is_words_only(world, session_factory, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The e-mail a leader reads: Chinese, rule IDs with their meaning, no status codes or English."""
    with session_factory.begin() as s:
        semester = s.get(Semester, world.semester.id)
        assert semester is not None
        due = checkpoint_due_at(semester, 6, "Asia/Shanghai")
        reminders = ReminderService(s, world.institution_id).run_checkpoint(
            Checkpoint(world.institution_id, semester.id, 6, due)
        )
        mails = [(r.subject, r.body) for r in reminders]
    assert mails
    mailer = Mailer(dataclasses.replace(settings, outbox_path=tmp_path))  # not the suite's shared outbox
    for subject, body in mails:
        path = Path(mailer.send("leader@jti.edu", subject, body))
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message["Subject"] + "\n" + message.get_content()  # type: ignore[union-attr]
        words = re.sub(r"\b[A-Z]-\d+[a-z]?\b", "", text.replace("leader@jti.edu", ""))
        assert not re.search(r"[A-Za-z]{3,}", words), text
        assert not INTERNAL_WORDS.search(words), text
        for rule_id in re.findall(r"\b[A-Z]-\d+[a-z]?\b", text):
            assert re.search(re.escape(rule_id) + r" [^\s：:]", text), (rule_id, text)  # with its meaning


def test_english_pages_translate_positions_and_groups(world, launcher, client) -> None:  # type: ignore[no-untyped-def]
    english = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"locale": "en-US"}}
    leader = launcher.launch(OBSERVER, **english)
    home = leader.get(client, "/home").get_data(as_text=True)
    assert "Member of the school leadership" in home and "校领导班子成员" not in home
    qc = launcher.launch(QC, **english)
    policy = qc.get(client, "/policy/rules").get_data(as_text=True)
    assert "School leaders" in policy and "Head of Logistics" in policy
    dashboard = qc.get(client, "/policy/").get_data(as_text=True)
    assert "School leaders" in dashboard and ">校领导<" not in dashboard


def test_every_position_and_group_of_the_default_policy_has_english() -> None:
    policy = default_policy()
    assert all(p.name_en for p in policy.positions.values())
    assert all(policy.groups_en.get(code) for code in policy.groups)
    for choices in (policy.scale, policy.dimensions, policy.patrol_checklist, policy.problem_categories):
        assert all(c.label_en for c in choices)
