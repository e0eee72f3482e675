"""The directory the grassroots-contact system needs (issue 9 §1): teaching offices, labs and party branches
under a college, party membership and own branch in the people import, student classes from the
timetable and from ``tingke import classes``; bad rows refused by row and column with nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lti_tool.directory.models import Person, StudentClass, Unit
from tests.support.cli import Run, cli_runner

UNITS = (
    "代码,名称,类型,职能,上级单位,支部类型\n"
    "QC,汽车工程学院,二级学院,,,\n"
    "JT,交通运输学院,college,,,\n"
    "XB,学校办公室,department,学校办公室,,\n"
    "QC-JY1,汽车检测教研室,教研室,,QC,\n"
    "QC-SY1,汽车电控实训室,lab,,汽车工程学院,\n"
    "QC-DZB1,汽车工程学院教工党支部,党支部,,QC,教工\n"
    "QC-DZB2,汽车工程学院学生第一党支部,party_branch,,QC,student\n"
)


@pytest.fixture
def run(database_url: str, session_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    invoke = cli_runner(monkeypatch, database_url, tmp_path / "instance")
    assert invoke("institution", "add", "JTI", "--name", "吉林交通职业技术学院").exit_code == 0
    return invoke


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def unit_count(session_factory) -> int:
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(Unit)) or 0)


def test_units_with_parent_and_branch_kind(run, tmp_path, session_factory) -> None:
    result = run("import", "units", write(tmp_path, "units.csv", UNITS))
    assert result.exit_code == 0, result.output
    assert "created 7" in result.output
    with session_factory() as s:
        units = {u.code: u for u in s.scalars(select(Unit))}
        got = {
            code: (u.kind, u.parent.code if u.parent else None, u.branch_kind, u.function)
            for code, u in units.items()
        }
    assert got == {
        "QC": ("college", None, "", ""),
        "JT": ("college", None, "", ""),
        "XB": ("department", None, "", "school_office"),
        "QC-JY1": ("teaching_office", "QC", "", ""),
        "QC-SY1": ("lab", "QC", "", ""),
        "QC-DZB1": ("party_branch", "QC", "teacher", ""),
        "QC-DZB2": ("party_branch", "QC", "student", ""),
    }
    # Re-import moving the lab to another college: one unit updated, nothing duplicated.
    moved = UNITS.replace("QC-SY1,汽车电控实训室,lab,,汽车工程学院,", "QC-SY1,汽车电控实训室,lab,,JT,")
    result = run("import", "units", write(tmp_path, "units2.csv", moved))
    assert "created 0, updated 1, unchanged 6" in result.output, result.output
    with session_factory() as s:
        lab = s.scalars(select(Unit).where(Unit.code == "QC-SY1")).one()
        assert lab.parent is not None and lab.parent.code == "JT"


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("X1,无上级教研室,teaching_office,,,", "parent"),  # a sub-unit needs its college
        ("X1,某教研室,教研室,,NOPE,", "parent"),  # unknown parent
        ("X1,某教研室,教研室,,QC-JY1,", "parent"),  # a teaching office is not a college
        ("X1,某学院,college,,QC,", "parent"),  # a college has no parent
        ("X1,某支部,党支部,,QC,退休", "branch_kind"),  # not teacher/student
        ("X1,某实训室,lab,,QC,student", "branch_kind"),  # only branches have a branch type
    ],
)
def test_units_bad_parent_or_branch_kind_refused_by_row_and_column(
    run, tmp_path, session_factory, line, column
) -> None:
    result = run("import", "units", write(tmp_path, "bad.csv", UNITS + line + "\n"))
    assert result.exit_code == 2, result.output
    header = {"parent": "上级单位", "branch_kind": "支部类型"}[column]
    assert f"(row 9, column {header})" in result.output
    assert unit_count(session_factory) == 0


def test_people_party_membership_and_branch(run, tmp_path, session_factory) -> None:
    assert run("import", "units", write(tmp_path, "units.csv", UNITS)).exit_code == 0
    people = (
        "工号,姓名,单位,政治面貌,所在支部\n"
        "T001,王建国,QC,中共党员,QC-DZB1\n"
        "T002,李明,QC,中共预备党员,汽车工程学院教工党支部\n"
        "T003,赵敏,QC,群众,\n"
        "T004,孙丽,QC,yes,\n"
        "T005,周强,QC,共青团员,\n"
    )
    result = run("import", "people", write(tmp_path, "people.csv", people))
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        got = {
            p.employee_no: (p.party_member, p.branch.code if p.branch else None)
            for p in s.scalars(select(Person))
        }
    assert got == {
        "T001": (True, "QC-DZB1"),
        "T002": (True, "QC-DZB1"),
        "T003": (False, None),
        "T004": (True, None),
        "T005": (False, None),
    }
    # A plain staff list without the two columns leaves membership and branch alone.
    result = run("import", "people", write(tmp_path, "plain.csv", "工号,姓名\nT001,王建国\n"))
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        p = s.scalars(select(Person).where(Person.employee_no == "T001")).one()
        assert p.party_member and p.branch is not None


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("T009,错误,QC,maybe,", "政治面貌"),  # not a political status
        ("T009,错误,QC,中共党员,NOPE", "所在支部"),  # unknown branch
        ("T009,错误,QC,中共党员,QC-JY1", "所在支部"),  # a teaching office is no branch
        ("T009,错误,QC,群众,QC-DZB1", "所在支部"),  # only members belong to a branch
    ],
)
def test_people_bad_membership_or_branch_refused(run, tmp_path, session_factory, line, column) -> None:
    assert run("import", "units", write(tmp_path, "units.csv", UNITS)).exit_code == 0
    people = "工号,姓名,单位,政治面貌,所在支部\nT001,王建国,QC,中共党员,QC-DZB1\n" + line + "\n"
    result = run("import", "people", write(tmp_path, "people.csv", people))
    assert result.exit_code == 2, result.output
    assert f"(row 3, column {column})" in result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0


def test_classes_import_and_refusals(run, tmp_path, session_factory) -> None:
    assert run("import", "units", write(tmp_path, "units.csv", UNITS)).exit_code == 0
    bad = "班级,学院\n汽车2301,QC\n汽车2302,QC-JY1\n汽车2301,QC\n"
    result = run("import", "classes", write(tmp_path, "bad.csv", bad))
    assert result.exit_code == 2, result.output
    assert "(row 3, column 学院)" in result.output
    assert "(row 4, column 班级)" in result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(StudentClass)) == 0
    good = "班级,学院\n汽车2301,QC\n运输2301,交通运输学院\n"
    result = run("import", "classes", write(tmp_path, "good.csv", good))
    assert result.exit_code == 0, result.output
    assert "created 2" in result.output
    with session_factory() as s:
        got = {c.name: (c.unit.code if c.unit else None, c.source) for c in s.scalars(select(StudentClass))}
    assert got == {"汽车2301": ("QC", "import"), "运输2301": ("JT", "import")}
