"""The annual cadre file (三个纳入, issue 12 item 6): its run, the year it covers, the Excel and the PDF."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest

from lti_tool.directory.models import Person
from lti_tool.errors import BadRequest
from lti_tool.reports.cadre_file import ACADEMIC, CALENDAR, CadreYear, parse_period
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.services import ReportRunService
from lti_tool.timetable.models import Semester
from tests.functional.reports.test_report import pdf_text
from tests.support import factories as f
from tests.support.cadre_world import NOW, CadreWorld, cadre_world
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser
from tests.support.redis import redis_for
from worker import jobs

D = dt.date


def test_a_run_for_a_year_is_keyed_by_the_year_and_the_language(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        inst = f.institution(s, "RUNKEY").id
        service = ReportRunService(s, inst)
        first, created = service.request(
            "cadre_file", semester_id=None, period="ay:2026-2027", language="zh_CN"
        )
        again, created_again = service.request(
            "cadre_file", semester_id=None, period="ay:2026-2027", language="zh_CN"
        )
        calendar, created_calendar = service.request(
            "cadre_file", semester_id=None, period="cy:2026", language="zh_CN"
        )
        english, created_english = service.request(
            "cadre_file", semester_id=None, period="ay:2026-2027", language="en"
        )
        assert created and not created_again and again.id == first.id
        assert created_calendar and calendar.id != first.id and calendar.period == "cy:2026"
        assert created_english and english.id not in (first.id, calendar.id) and english.language == "en"


# -- the year ------------------------------------------------------------------------------------------------
def test_a_year_holds_the_semesters_whose_first_monday_falls_in_it() -> None:
    autumn = Semester(code="2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)  # runs into January 2027
    spring = Semester(code="2026-2027-2", week1_monday=D(2027, 3, 1), weeks=18)
    academic, calendar = parse_period("ay:2026-2027"), parse_period("cy:2026")
    assert academic == CadreYear(ACADEMIC, "2026-2027") and calendar == CadreYear(CALENDAR, "2026")
    assert academic.holds(autumn, "08-01") and academic.holds(spring, "08-01")
    assert calendar.holds(autumn, "08-01") and not calendar.holds(spring, "08-01")
    assert not parse_period("cy:2027").holds(autumn, "08-01")  # counted whole in 2026, never twice
    assert academic.bounds("08-01") == (D(2026, 8, 1), D(2027, 7, 31))
    assert calendar.bounds("08-01") == (D(2026, 1, 1), D(2026, 12, 31))
    assert (academic.label_zh, calendar.label_zh) == ("2026—2027学年", "2026年度")
    for bad in ("", "ay:2026-2028", "cy:26", "2026", "ay:2026", "cy:0001", "xy:2026"):
        with pytest.raises(BadRequest):
            parse_period(bad)


# -- the hand-computed college (tests/support/cadre_world.py) ------------------------------------------------
@pytest.fixture
def world(session_factory, worker_db, time_machine) -> CadreWorld:  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=True)
    with session_factory.begin() as s:
        return cadre_world(s)


def _run(session_factory, world: CadreWorld, kind: str, period: str, language: str = "zh_CN") -> ReportRun:
    with session_factory.begin() as s:
        run = ReportRun(institution_id=world.institution_id, kind=kind, period=period, language=language)
        s.add(run)
        s.flush()
        run_id = run.id
    jobs.run_report(run_id)  # the worker's job, in-process
    with session_factory() as s:
        done = s.get(ReportRun, run_id)
        assert done is not None and done.status == RunStatus.SUCCEEDED, done.error if done else ""
        s.expunge(done)
        return done


def _book(run: ReportRun) -> openpyxl.Workbook:
    assert run.content is not None and run.content.startswith(b"PK")
    return openpyxl.load_workbook(io.BytesIO(run.content))


def _rows(sheet) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


HEADS_ZH = [
    "工号",
    "姓名",
    "单位",
    "职务",
    "听课任务：应完成项数",
    "听课任务：已完成项数",
    "听课任务",
    "联系基层任务：应完成项数",
    "联系基层任务：已完成项数",
    "联系基层任务",
    "接待日：安排周数",
    "接待日：已接待周数",
    "来信：呈报件数",
    "来信：按时答复",
    "来信：逾期答复",
    "来信：逾期未复",
    "来信：办理中",
    "年度总结",
    "总体情况",
]
DETAIL_ZH = [
    "学期",
    "工号",
    "姓名",
    "单位",
    "条目",
    "要求",
    "应完成",
    "已完成",
    "状态",
    "部分任期",
    "尚缺",
    "说明",
    "来源",
]


def test_the_academic_year_file_cell_by_cell(session_factory, world) -> None:  # type: ignore[no-untyped-def]
    run = _run(session_factory, world, "cadre_file", "ay:2026-2027")
    assert run.filename == "干部考核档案-2026—2027学年.xlsx"
    book = _book(run)
    assert book.sheetnames == ["汇总", "听课任务", "联系基层任务", "说明"]
    summary = _rows(book["汇总"])
    assert summary[0] == HEADS_ZH
    assert len(summary) == 3  # 孙 and 王; 周老师 holds no position, the other college's leader is not ours
    sun, wang = summary[1], summary[2]
    assert sun == [
        "F001", "'=1+2", "'@SUM(A1)", "教务处主要负责人",
        2, 1, "1项未完成",  # O-7: met in 2026-2027-1, short in -2
        2, 1, "1项未完成",  # C-5: the same
        "—", "—",  # no reception duty
        0, 0, 0, 0, 0,
        "—",  # no year-end summary duty
        "有任务未完成",
    ]  # fmt: skip
    assert wang[0:2] == ["L001", "王副校长"] and not wang[2] and wang[3] == "分管科研的校领导"
    assert wang[4:] == [
        2, 1, "1项未完成",  # O-1 met then short (O-3 not applicable: no 思政 course taught)
        10, 7, "3项未完成",  # C-1a ×2 met, C-1b met/short, C-4 met/short, C-6a short/met, C-7b ×2 met
        3, 2,  # weeks 2 and 5 of the autumn (5 not recorded), week 3 of the spring
        4, 1, 1, 1, 1,  # letters of 2026-08-01 … 2027-07-31: on time, late, overdue, in handling
        "学校办公室已接收（2027-07-12）",
        "有任务未完成",
    ]  # fmt: skip

    observation = _rows(book["听课任务"])
    assert observation[0] == DETAIL_ZH
    by_key = {(r[0], r[1], r[4]): r for r in observation[1:]}
    assert set(by_key) == {
        ("2026-2027-1", "F001", "O-7"),
        ("2026-2027-2", "F001", "O-7"),
        ("2026-2027-1", "L001", "O-1"),
        ("2026-2027-2", "L001", "O-1"),
        ("2026-2027-1", "L001", "O-3"),
        ("2026-2027-2", "L001", "O-3"),
    }
    assert by_key["2026-2027-2", "F001", "O-7"][5:11] == ["每学期至少听4次课", 4, 0, "未完成", None, None]
    assert by_key["2026-2027-2", "L001", "O-1"][6:9] == [2, 1, "未完成"]
    assert by_key["2026-2027-1", "L001", "O-3"][8] == "不适用"

    contact = _rows(book["联系基层任务"])
    assert contact[0] == DETAIL_ZH
    c = {(r[0], r[1], r[4]): r for r in contact[1:]}
    assert len(c) == 14  # 王 7 rules × 2 semesters, 孙 C-5 × 2
    assert c["2026-2027-1", "L001", "C-6a"][5:12] == [
        "每个排定的接待周都有接待记录", 2, 1, "未完成", None, "第 5 周",
        "排定接待2周，已记录1周；未记录：第5周。",
    ]  # fmt: skip
    assert c["2026-2027-2", "L001", "C-6a"][6:9] == [1, 1, "已完成"]
    assert c["2026-2027-2", "L001", "C-1b"][6:9] == [2, 1, "未完成"]
    assert c["2026-2027-2", "L001", "C-4"][6:9] == [1, 0, "未完成"]
    assert c["2026-2027-1", "L001", "C-3a"][6:9] == [0, 0, "不适用"]
    assert c["2026-2027-2", "L001", "C-7b"][6:9] == [1, 1, "已完成"]
    assert c["2026-2027-2", "F001", "C-5"][6:9] == [1, 0, "未完成"]
    about = dict((r[0], r[1]) for r in _rows(book["说明"]))
    assert about["年度"] == "2026-2027学年" and about["学期"] == "2026-2027-1、2026-2027-2"
    assert (about["起始日期"], about["截止日期"]) == ("2026-08-01", "2027-07-31")


def test_the_calendar_year_file_counts_the_semesters_begun_in_it(session_factory, world) -> None:  # type: ignore[no-untyped-def]
    run = _run(session_factory, world, "cadre_file", "cy:2026")
    assert run.filename == "干部考核档案-2026年度.xlsx"
    book = _book(run)
    summary = _rows(book["汇总"])
    sun, wang = summary[1], summary[2]
    assert sun[4:10] == [2, 1, "1项未完成", 2, 1, "1项未完成"]  # 2025-2026-2 short, 2026-2027-1 met
    assert wang[4:] == [
        2, 1, "1项未完成",  # O-1: 2025-2026-2 none, 2026-2027-1 two
        # 2025-2026-2: C-1a, C-1b, C-4 short and C-7b (its summary, due 2026-07-15 in the summer break after
        # it, never written); 2026-2027-1: C-6a short, four met
        9, 4, "5项未完成",
        2, 1,  # the autumn's weeks only (the spring of 2027 is another calendar year)
        3, 2, 1, 0, 0,  # letters received in 2026: March (on time), October (on time), November (late)
        "未撰写",  # the summary due in 2026 is 2025-2026's (due 2026-07-15): none was written
        "有任务未完成",
    ]  # fmt: skip
    semesters = {r[0] for r in _rows(book["联系基层任务"])[1:]}
    assert semesters == {"2025-2026-2", "2026-2027-1"}
    about = dict((r[0], r[1]) for r in _rows(book["说明"]))
    assert about["年度"] == "2026年度" and (about["起始日期"], about["截止日期"]) == (
        "2026-01-01",
        "2026-12-31",
    )


def test_no_cell_is_a_formula_whatever_was_typed(session_factory, world) -> None:  # type: ignore[no-untyped-def]
    book = _book(_run(session_factory, world, "cadre_file", "ay:2026-2027"))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    typed = [c for c in cells if isinstance(c.value, str) and c.value.lstrip("'").startswith(("=", "@"))]
    assert typed and all(c.value.startswith("'") and c.data_type == "s" for c in typed)  # type: ignore[union-attr]
    assert {c.value for c in typed} >= {"'=1+2", "'@SUM(A1)"}


def test_the_file_speaks_the_requesters_language(session_factory, world) -> None:  # type: ignore[no-untyped-def]
    run = _run(session_factory, world, "cadre_file", "ay:2026-2027", language="en")
    assert run.filename == "cadre-file-2026-2027.xlsx"
    book = _book(run)
    assert book.sheetnames == ["Summary", "Observation duties", "Contact duties", "About this file"]
    summary = _rows(book["Summary"])
    assert summary[0][:5] == ["Employee no.", "Name", "Unit", "Positions", "Observation duties owed"]
    assert summary[2][6] == "1 not met" and summary[2][17] == "Received by the school office 2027-07-12"
    contact = _rows(book["Contact duties"])
    row = next(r for r in contact if r[0] == "2026-2027-1" and r[4] == "C-6a")
    assert row[5] == "a reception record for every week scheduled" and row[8] == "Not met"
    assert row[11] == "1 of 2 reception weeks recorded; not recorded: week 5."


def test_the_pdf_summary_says_the_same(session_factory, world) -> None:  # type: ignore[no-untyped-def]
    run = _run(session_factory, world, "cadre_summary", "ay:2026-2027")
    assert run.filename == "干部考核档案-2026—2027学年.pdf" and (run.content or b"").startswith(b"%PDF")
    text = pdf_text(run.content or b"")
    assert "干部听课与联系基层履职情况汇总（2026—2027学年）" in text
    assert "所含学期：2026-2027-1、2026-2027-2" in text
    # 王: observation 1 of 2 met, contact 7 of 10, reception 2 of 3 weeks, letters (4 routed: on time, late,
    # overdue, in handling), the summary received
    assert "王副校长L001" in text
    wang = text.split("王副校长L001", 1)[1].split("二、未完成的任务", 1)[0]
    assert wang.startswith(
        "—分管科研的校领导1/21项未完成7/103项未完成2/3"
        "呈报4按时答复1逾期答复1逾期未复1办理中1学校办公室已接收（2027-07-12）有任务未完成"
    )
    sun = text.split("=1+2", 1)[1]  # a PDF shows what was typed: no formula to neutralise
    assert sun.startswith("F001@SUM(A1)教务处主要负责人1/21项未完成1/21项未完成—呈报0按时答复0—有任务未完成")
    shortfalls = text.split("二、未完成的任务", 1)[1].split("每项任务的逐学期明细", 1)[0]
    assert shortfalls.count("王副校长") == 4 and shortfalls.count("=1+2") == 2
    for row in (
        "=1+22026-2027-2O-7每学期至少听4次课40应听课4次，已完成0次。",
        "=1+22026-2027-2C-5每学期至少1次：召开师生员工座谈会10",
        "王副校长2026-2027-1C-6a每个排定的接待周都有接待记录21排定接待2周，已记录1周；未记录：第5周。",
        "王副校长2026-2027-2O-1每学期至少听2次课21",
        "王副校长2026-2027-2C-1b",
        "王副校长2026-2027-2C-4",
    ):
        assert row in shortfalls, row


# -- through the real pages ----------------------------------------------------------------------------------
ORG = LmsUser("org-1", "组织部吴部长", "org@jti.edu", "Z001", [ROLE_INSTRUCTOR])
OFFICE = LmsUser("office-1", "办公室李主任", "office@jti.edu", "X001", [ROLE_INSTRUCTOR])
QC = LmsUser("qc-1", "质控中心刘老师", "qc@jti.edu", "Q001", [ROLE_INSTRUCTOR])
LEADER = LmsUser("leader-1", "王副校长", "wang@jti.edu", "L001", [ROLE_INSTRUCTOR])


@pytest.fixture
def college(  # type: ignore[no-untyped-def]
    session_factory, settings, institution_id, worker_db, time_machine
) -> CadreWorld:
    time_machine.move_to(NOW, tick=True)
    redis_for(settings)
    with session_factory.begin() as s:
        built = cadre_world(s, institution_id=institution_id)
        for code, name, function, who, no in (
            ("ZZB", "党委组织部", "organization", "组织部吴部长", "Z001"),
            ("XB", "学校办公室", "school_office", "办公室李主任", "X001"),
            ("ZK", "质控中心", "quality_center", "质控中心刘老师", "Q001"),
        ):
            unit = f.unit(s, institution_id, name, kind="department", code=code, function=function)
            f.person(s, institution_id, who, employee_no=no, unit=unit)
        s.get(Person, built.people["wang"]).email = "wang@jti.edu"  # type: ignore[union-attr]
        return built


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def _start(client, launched, page: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(f"/reports/start?s={launched.token}", data={"csrf": _csrf(page), **form})


def _made(client, launched, response) -> tuple[int, bytes, str]:  # type: ignore[no-untyped-def]
    """The run a start made, built by the worker's job, downloaded as its page links it."""
    assert response.status_code == 303, response.get_data(as_text=True)
    run_id = int(re.search(r"/reports/runs/(\d+)", response.headers["Location"]).group(1))  # type: ignore[union-attr]
    jobs.run_report(run_id)
    page = launched.get(client, f"/reports/runs/{run_id}").get_data(as_text=True)
    link = re.search(r'href="([^"]*/reports/runs/\d+/download[^"]*)"', page)
    assert link is not None, page
    download = client.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    return run_id, download.data, download.headers["Content-Disposition"]


def test_the_organization_department_makes_the_file_from_its_home_page(  # type: ignore[no-untyped-def]
    client, launcher, college
) -> None:
    org = launcher.launch(ORG)
    home = org.get(client, "/home").get_data(as_text=True)
    panel = home.split('id="panel-cadres"', 1)[1].split("</section>", 1)[0]
    options = re.findall(r'<option value="([^"]+)"', panel)
    assert options == ["ay:2026-2027", "ay:2025-2026", "cy:2027", "cy:2026"]
    assert 'value="cadre_file"' in panel and 'value="cadre_summary"' in panel
    run_id, data, disposition = _made(
        client, org, _start(client, org, home, kind="cadre_file", period="ay:2026-2027")
    )
    assert "filename*=UTF-8''" in disposition and data.startswith(b"PK")
    summary = _rows(openpyxl.load_workbook(io.BytesIO(data))["汇总"])
    assert summary[0] == HEADS_ZH and [r[0] for r in summary[1:]] == ["F001", "L001"]
    assert summary[2][12:17] == [4, 1, 1, 1, 1]
    # the run's page and the reports list name the year, not a semester
    listing = org.get(client, "/reports/").get_data(as_text=True)
    assert f"/reports/runs/{run_id}" in listing and "2026-2027学年" in listing
    # the PDF summary of a calendar year, from the same form
    again = _start(client, org, home, kind="cadre_summary", period="cy:2026")
    _pdf_id, pdf, _ = _made(client, org, again)
    assert pdf.startswith(b"%PDF") and "2026年度" in pdf_text(pdf)


def test_the_school_office_makes_it_in_english_when_it_reads_english(  # type: ignore[no-untyped-def]
    client, launcher, college
) -> None:
    office = launcher.launch(OFFICE)
    home = office.get(client, "/home").get_data(as_text=True)
    assert 'id="panel-cadre-file"' in home
    client.post(f"/home/locale?s={office.token}", data={"csrf": _csrf(home), "locale": "en"})
    home = office.get(client, "/home").get_data(as_text=True)
    assert "Calendar year 2026" in home and "Make the cadre file (Excel)" in home
    _run_id, data, _ = _made(
        client, office, _start(client, office, home, kind="cadre_file", period="cy:2026")
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames[0] == "Summary"
    assert _rows(book["Summary"])[2][4:7] == [2, 1, "1 not met"]


def test_the_quality_center_makes_it_from_the_reports_page(  # type: ignore[no-untyped-def]
    client, launcher, college
) -> None:
    qc = launcher.launch(QC)
    page = qc.get(client, "/reports/").get_data(as_text=True)
    generic = page.split('id="kind"', 1)[1].split("</select>", 1)[0]
    assert "cadre_file" not in generic and "cadre_excel" not in page  # the year form, not a semester's
    assert 'id="cadre-file"' in page
    _run_id, data, _ = _made(client, qc, _start(client, qc, page, kind="cadre_file", period="ay:2026-2027"))
    assert data.startswith(b"PK")


def test_others_get_403_another_institution_404_and_a_bad_year_400(  # type: ignore[no-untyped-def]
    client, launcher, college, session_factory
):
    org = launcher.launch(ORG)
    home = org.get(client, "/home").get_data(as_text=True)
    assert _start(client, org, home, kind="cadre_file", period="ay:2026").status_code == 400
    assert _start(client, org, home, kind="cadre_file", period="").status_code == 400
    run_id, _data, _ = _made(client, org, _start(client, org, home, kind="cadre_file", period="ay:2026-2027"))
    with session_factory.begin() as s:
        theirs = ReportRun(
            institution_id=college.other_institution_id,
            kind="cadre_file",
            period="ay:2026-2027",
            status=RunStatus.SUCCEEDED,
            filename="x.xlsx",
            content=b"PK-theirs",
        )
        s.add(theirs)
        s.flush()
        theirs_id = theirs.id
    assert org.get(client, f"/reports/runs/{theirs_id}").status_code == 404
    assert org.get(client, f"/reports/runs/{theirs_id}/download").status_code == 404
    leader = launcher.launch(LEADER)
    page = leader.get(client, "/home").get_data(as_text=True)
    assert "cadre_file" not in page
    assert _start(client, leader, page, kind="cadre_file", period="ay:2026-2027").status_code == 403
    assert _start(client, leader, page, kind="cadre_summary", period="ay:2026-2027").status_code == 403
    assert leader.get(client, f"/reports/runs/{run_id}").status_code == 403
    assert leader.get(client, f"/reports/runs/{run_id}/download").status_code == 403


def test_the_cli_makes_the_cadre_file_for_a_year_and_names_what_is_missing(  # type: ignore[no-untyped-def]
    world, database_url, tmp_path, monkeypatch
):
    from tests.support.cli import cli_runner

    run = cli_runner(monkeypatch, database_url, tmp_path / "instance")
    out = tmp_path / "cadre.xlsx"
    result = run(
        "report", "--kind", "cadre_file", "--year", "ay:2026-2027", "--out", str(out), "--institution", "CAD"
    )
    assert result.exit_code == 0, result.output
    assert "干部考核档案-2026—2027学年.xlsx" in result.output
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()), read_only=True)
    assert "汇总" in book.sheetnames
    pdf = tmp_path / "cadre.pdf"
    result = run(
        "report", "--kind", "cadre_summary", "--year", "cy:2026", "--language", "en", "--out", str(pdf),
        "--institution", "CAD",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    for args, said in (
        (("--kind", "cadre_file", "--out", str(out)), "--year is required"),
        (("--kind", "cadre_file", "--year", "2026", "--out", str(out)), "neither ay:YYYY-YYYY nor cy:YYYY"),
        (("--kind", "contact_report", "--out", str(out)), "--semester CODE is required"),
        (("--kind", "contact_archive", "--semester", "2026-2027-1", "--out", str(out)), "--person"),
    ):
        bad = run("report", *args, "--institution", "CAD")
        assert bad.exit_code != 0 and said in bad.output, bad.output
