"""``tingke import contact-points`` and ``tingke import contacts`` (issue 9 §2, §3, §9): Chinese or English
headers and kind names, refusals by row and column with nothing stored, re-import replaces the listed people's
points for that year, a paper record imported twice is one record."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from tests.support.cli import Run, cli_runner

UNITS = (
    "代码,名称,类型,职能,上级单位,支部类型\n"
    "QC,汽车工程学院,二级学院,,,\n"
    "JT,交通运输学院,二级学院,,,\n"
    "JW,教务处,职能部门,,,\n"
    "QC-JY1,汽车检测教研室,教研室,,QC,\n"
    "QC-DZB1,汽车工程学院教工党支部,党支部,,QC,教工\n"
    "JT-DZB1,交通运输学院学生党支部,党支部,,JT,学生\n"
)
PEOPLE = (
    "工号,姓名,单位,职务,政治面貌,所在支部\n"
    "100001,王书记,,school_leader,中共党员,\n"
    "100002,李院长,,school_leader,中共党员,\n"
    "110001,赵院长,QC,college_dean,中共党员,QC-DZB1\n"
)
CLASSES = "班级,学院\n汽车2301,QC\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def run(database_url: str, session_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    invoke = cli_runner(monkeypatch, database_url, tmp_path / "instance")
    assert invoke("institution", "add", "JTI", "--name", "吉林交通职业技术学院").exit_code == 0
    for kind, text in (("units", UNITS), ("people", PEOPLE), ("classes", CLASSES)):
        result = invoke("import", kind, write(tmp_path, f"{kind}.csv", text))
        assert result.exit_code == 0, result.output
    return invoke


def points(session_factory) -> set[tuple[str, str, str, str]]:
    with session_factory() as s:
        out = set()
        for p in s.scalars(select(ContactPoint)):
            target = p.unit.code if p.unit else p.student_class.name if p.student_class else p.label
            out.add((p.person.employee_no, p.academic_year, p.kind, target))
        return out


def test_contact_points_chinese_headers_and_kinds(run, tmp_path, session_factory) -> None:
    text = (
        "工号,学年,类型,对象,开始,结束\n"
        "100001,2026-2027,学院,QC,,\n"
        "100001,2026-2027,党支部,QC-DZB1,,\n"
        "100001,2026-2027,宿舍,学生公寓3号楼,,\n"
        "110001,2026-2027,教研室,汽车检测教研室,2026-09-01,2027-07-15\n"
        "110001,2026/2027,班级,汽车2301,,\n"
        "110001,2026-2027,党支部,QC-DZB1,,\n"  # the dean's own college's branch: fits C-3b
    )
    result = run("import", "contact-points", write(tmp_path, "points.csv", text))
    assert result.exit_code == 0, result.output
    assert "created 6" in result.output
    assert points(session_factory) == {
        ("100001", "2026-2027", "college", "QC"),
        ("100001", "2026-2027", "party_branch", "QC-DZB1"),
        ("100001", "2026-2027", "dormitory", "学生公寓3号楼"),
        ("110001", "2026-2027", "teaching_office", "QC-JY1"),
        ("110001", "2026-2027", "student_class", "汽车2301"),
        ("110001", "2026-2027", "party_branch", "QC-DZB1"),
    }
    # Re-import for 100001 only: their 2026-2027 points are replaced, 110001's stay.
    again = (
        "employee_no,academic_year,kind,target\n"
        "100001,2026-2027,college,JT\n"
        "100001,2026-2027,club,青年志愿者协会\n"
    )
    result = run("import", "contact-points", write(tmp_path, "again.csv", again))
    assert result.exit_code == 0, result.output
    assert "created 2, updated 0, unchanged 0, removed 3" in result.output
    assert {p for p in points(session_factory) if p[0] == "100001"} == {
        ("100001", "2026-2027", "college", "JT"),
        ("100001", "2026-2027", "club", "青年志愿者协会"),
    }
    assert len(points(session_factory)) == 5


def test_three_colleges_and_a_repeated_college_are_stored_not_refused(run, tmp_path, session_factory) -> None:
    """C-1a's limits are compliance's to flag (issue 9 §4b), never an import refusal."""
    text = (
        "工号,学年,类型,对象\n"
        "100002,2025-2026,学院,QC\n"
        "100002,2026-2027,学院,QC\n"  # the same college as the previous year
        "100002,2026-2027,学院,JT\n"
        "100002,2026-2027,学院,马克思主义学院\n"  # a third college
    )
    units = "代码,名称,类型\nMX,马克思主义学院,马克思主义学院\n"
    assert run("import", "units", write(tmp_path, "mx.csv", units)).exit_code == 0
    result = run("import", "contact-points", write(tmp_path, "p.csv", text))
    assert result.exit_code == 0, result.output
    assert len(points(session_factory)) == 4


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("999999,2026-2027,学院,QC", "工号"),  # not on the roster
        ("100001,2026,学院,QC", "学年"),  # not an academic year
        ("100001,2026-2027,食堂,QC", "类型"),  # not a kind of contact point
        ("100001,2026-2027,学院,JW", "对象"),  # a department is not a teaching college
        ("100001,2026-2027,学院,NOPE", "对象"),  # no such unit
        ("100001,2026-2027,班级,汽车9999", "对象"),  # no such class
        ("100001,2026-2027,党支部,JT-DZB1", "对象"),  # a branch of a college 100001 does not contact (C-3a)
        ("100001,2026-2027,教研室,QC", "对象"),  # a college is not a teaching office
        ("100001,2026-2027,学院,JT,2025-01-01,", "开始"),  # outside the year
        ("100001,2026-2027,学院,JT,2027-03-01,2026-10-01", "结束"),  # before the start
    ],
)
def test_bad_contact_point_rows_refused_by_row_and_column(
    run, tmp_path, session_factory, line, column
) -> None:
    text = "工号,学年,类型,对象,开始,结束\n100001,2026-2027,学院,QC,,\n" + line + "\n"
    result = run("import", "contact-points", write(tmp_path, "bad.csv", text))
    assert result.exit_code == 2, result.output
    assert f"(row 3, column {column})" in result.output
    assert points(session_factory) == set()


def test_contact_records_xlsx_with_chinese_kinds_and_groups(run, tmp_path, session_factory) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        [
            "工号",
            "日期",
            "类型",
            "对象类型",
            "对象",
            "地点",
            "参加人数",
            "内容",
            "意见建议",
            "状态",
            "支部确认",
        ]
    )
    ws.append(
        [
            "100001;100002",
            "2026-10-09",
            "调研指导",
            "学院",
            "QC",
            "实训楼A",
            15,
            "调研实训基地",
            "设备老化",
            "",
            "",
        ]
    )
    ws.append(
        [
            "100001",
            "2026-10-20",
            "支部活动",
            "党支部",
            "QC-DZB1",
            "党员活动室",
            22,
            "主题党日",
            "",
            "已提交",
            "是",
        ]
    )
    ws.append(
        ["110001", "2026-11-02", "symposium", "unit", "教务处", "", "", "学生座谈", "", "submitted", ""]
    )
    ws.append(
        ["100002", "2026-11-05", "思政课", "班级", "汽车2301", "阶梯教室3", 80, "形势与政策", "", "草稿", ""]
    )
    path = tmp_path / "记录.xlsx"
    wb.save(path)
    result = run("import", "contacts", str(path))
    assert result.exit_code == 0, result.output
    assert "created 4" in result.output
    with session_factory() as s:
        records = {r.kind: r for r in s.scalars(select(ContactRecord))}
        assert set(records) == {"visit", "branch_activity", "symposium", "lecture"}
        assert sorted(m.person.employee_no for m in records["visit"].members) == ["100001", "100002"]
        assert records["branch_activity"].branch_confirmation == "confirmed"
        assert records["lecture"].status == "draft" and records["visit"].status == "submitted"
        assert all(r.imported for r in records.values())
    result = run("import", "contacts", str(path))  # the same paper records again: nothing duplicated
    assert "created 0, updated 0, unchanged 4" in result.output, result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ContactRecord)) == 4
        assert s.scalar(select(func.count()).select_from(ContactMember)) == 5


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("100001;999999,2026-10-09,调研指导,学院,QC,,,调研,,,", "工号"),
        ("100001,2026-13-01,调研指导,学院,QC,,,调研,,,", "日期"),
        ("100001,2099-01-01,调研指导,学院,QC,,,调研,,,", "日期"),  # not yet happened
        ("100001,2026-10-09,参观,学院,QC,,,调研,,,", "类型"),
        ("100001,2026-10-09,调研指导,食堂,QC,,,调研,,,", "对象类型"),
        ("100001,2026-10-09,调研指导,学院,JW,,,调研,,,", "对象"),  # not a teaching college
        ("100001,2026-10-09,支部活动,学院,QC,,,主题党日,,,", "对象类型"),  # a branch activity at a college
        ("100001,2026-10-09,调研指导,学院,QC,,很多,调研,,,", "参加人数"),
        ("100001,2026-10-09,调研指导,学院,QC,,,,,,", "内容"),  # submitted without content
        ("100001,2026-10-09,调研指导,学院,QC,,,调研,,done,", "状态"),
        ("100001,2026-10-09,调研指导,学院,QC,,,调研,,,是", "支部确认"),  # only branch activities
        ("100001,2026-10-09,支部活动,党支部,QC-DZB1,,,党日,,,也许", "支部确认"),
    ],
)
def test_bad_contact_record_rows_refused_by_row_and_column(
    run, tmp_path, session_factory, line, column
) -> None:
    header = "工号,日期,类型,对象类型,对象,地点,参加人数,内容,意见建议,状态,支部确认\n"
    good = "100001,2026-10-08,调研指导,学院,QC,,,调研,,,\n"
    result = run("import", "contacts", write(tmp_path, "bad.csv", header + good + line + "\n"))
    assert result.exit_code == 2, result.output
    assert f"(row 3, column {column})" in result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ContactRecord)) == 0
