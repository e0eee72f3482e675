"""``tingke import units|people`` end to end: the real CLI against the test database (issue 2 §5).

Each test runs the click command group exactly as the console script does, with the database and the
instance folder given by environment variables, and creates its institution through
``tingke institution add``. The files are written the way colleges produce them: CSV in UTF-8 or GB18030,
XLSX from a spreadsheet, headers in English or Chinese.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from lti_tool.cli import cli
from lti_tool.cli_support import CliContext
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.tenancy import Institution

UNITS_CSV = (
    "code,name,kind,function\n"
    "TR,交通运输学院,college,\n"
    "MX,马克思主义学院,marxism_school,\n"
    "JW,教务处,department,\n"
    "QC,教学质量监控与评价中心,department,quality_center\n"
)

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, session_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("TINGKE_DATABASE_URL", database_url)
    monkeypatch.setenv("TINGKE_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        ctx = CliContext()  # reads the environment set above, as the console script would
        try:
            return runner.invoke(cli, list(args), obj=ctx, catch_exceptions=False)
        finally:
            # CliContext never disposes its engine (a process exit does it); close the pool here so
            # PostgreSQL connections are not left to the garbage collector (a ResourceWarning).
            if ctx._factory is not None:  # noqa: SLF001
                ctx._factory.kw["bind"].dispose()  # noqa: SLF001

    return invoke


@pytest.fixture
def jti(run: Run) -> None:
    result = run("institution", "add", "JTI", "--name", "吉林交通职业技术学院")
    assert result.exit_code == 0, result.output


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def write_xlsx(tmp_path: Path, name: str, rows: list[list[object]]) -> str:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return str(path)


def counts(session_factory, code: str = "JTI") -> tuple[int, int, int]:
    with session_factory() as s:
        inst_id = s.scalar(select(Institution.id).where(Institution.code == code))

        def n(model: type) -> int:
            return int(
                s.scalar(select(func.count()).select_from(model).where(model.institution_id == inst_id)) or 0
            )

        return n(Unit), n(Person), n(PositionHolding)


def person(session_factory, employee_no: str) -> Person:
    with session_factory() as s:
        p = s.scalars(select(Person).where(Person.employee_no == employee_no)).one()
        _ = p.unit, list(p.positions)
        s.expunge_all()
        return p


def tenures(p: Person) -> set[tuple[str, dt.date | None, dt.date | None]]:
    return {(h.position_code, h.start_date, h.end_date) for h in p.positions}


@pytest.fixture
def units(run: Run, jti: None, tmp_path: Path) -> None:
    result = run("import", "units", write(tmp_path, "units.csv", UNITS_CSV))
    assert result.exit_code == 0, result.output


# -- units -------------------------------------------------------------------------------------------
def test_units_csv_english_headers(run, jti, tmp_path, session_factory) -> None:
    result = run("import", "units", write(tmp_path, "units.csv", UNITS_CSV))
    assert result.exit_code == 0, result.output
    assert "created 4" in result.output
    with session_factory() as s:
        got = {u.code: (u.name, u.kind, u.function) for u in s.scalars(select(Unit))}
    assert got == {
        "TR": ("交通运输学院", "college", ""),
        "MX": ("马克思主义学院", "marxism_school", ""),
        "JW": ("教务处", "department", ""),
        "QC": ("教学质量监控与评价中心", "department", "quality_center"),
    }


def test_units_xlsx_chinese_headers_and_values(run, jti, tmp_path, session_factory) -> None:
    path = write_xlsx(
        tmp_path,
        "单位.xlsx",
        [
            ["代码", "名称", "类型", "职能"],
            ["TR", "交通运输学院", "二级学院", ""],
            ["MX", "马克思主义学院", "马克思主义学院", None],
            ["ZZB", "党委组织部", "职能部门", "党委组织部"],
        ],
    )
    result = run("import", "units", path)
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        got = {u.code: (u.kind, u.function) for u in s.scalars(select(Unit))}
    assert got == {"TR": ("college", ""), "MX": ("marxism_school", ""), "ZZB": ("department", "organization")}


def test_units_reimport_updates_and_never_duplicates(run, units, tmp_path, session_factory) -> None:
    changed = UNITS_CSV.replace("教务处", "教务处（新）")
    result = run("import", "units", write(tmp_path, "units2.csv", changed))
    assert result.exit_code == 0, result.output
    assert "created 0, updated 1, unchanged 3" in result.output
    assert counts(session_factory)[0] == 4
    with session_factory() as s:
        assert s.scalars(select(Unit.name).where(Unit.code == "JW")).one() == "教务处（新）"


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (",无代码单位,college,", "code"),
        ("XX,某单位,faculty,", "kind"),
        ("XX,,college,", "name"),
        ("TR,重复单位,college,", "code"),
        ("XX,某单位,college,president_office", "function"),
    ],
)
def test_units_bad_row_stores_nothing(run, jti, tmp_path, session_factory, line, column) -> None:
    result = run("import", "units", write(tmp_path, "bad.csv", UNITS_CSV + line + "\n"))
    assert result.exit_code == 2, result.output
    assert f"(row 6, column {column})" in result.output
    assert counts(session_factory) == (0, 0, 0)


# -- people ------------------------------------------------------------------------------------------
def test_people_csv_positions_by_code_and_chinese_name(run, units, tmp_path, session_factory) -> None:
    text = (
        "employee_no,name,email,unit,positions,tenure_start,tenure_end\n"
        "1001,王书记,Wang@JTI.edu.cn,,party_secretary;school_leader,2019-03-01,\n"
        "1002,李院长,li@jti.edu.cn,交通运输学院,教学院（部）行政主要负责人；教学院（部）党务主要负责人,2024/9/1,\n"
        "1003,赵老师,zhao@jti.edu.cn,MX,马克思主义学院领导班子成员,2023年9月1日,2026.7.31\n"
        "1004,钱老师,,TR,,,\n"
    )
    result = run("import", "people", write(tmp_path, "people.csv", text))
    assert result.exit_code == 0, result.output
    assert "created 4" in result.output
    wang, li, zhao, qian = (person(session_factory, no) for no in ("1001", "1002", "1003", "1004"))
    assert wang.email == "wang@jti.edu.cn" and wang.unit is None
    assert tenures(wang) == {
        ("party_secretary", dt.date(2019, 3, 1), None),
        ("school_leader", dt.date(2019, 3, 1), None),
    }
    assert li.unit is not None and li.unit.code == "TR"
    assert tenures(li) == {
        ("college_dean", dt.date(2024, 9, 1), None),
        ("college_party_head", dt.date(2024, 9, 1), None),
    }
    assert zhao.unit is not None and zhao.unit.code == "MX"
    assert tenures(zhao) == {("marxism_school_leader", dt.date(2023, 9, 1), dt.date(2026, 7, 31))}
    assert qian.email is None and tenures(qian) == set()


def test_people_xlsx_chinese_headers_date_cells_and_numeric_numbers(
    run, units, tmp_path, session_factory
) -> None:
    path = write_xlsx(
        tmp_path,
        "人员.xlsx",
        [
            ["工号", "姓名", "邮箱", "单位", "职务", "任职开始", "任职结束"],
            [1001, "王书记", "wang@jti.edu.cn", None, "党委书记", dt.date(2019, 3, 1), None],
            [
                2001,
                "孙主任",
                "sun@jti.edu.cn",
                "教学质量监控与评价中心",
                "教学质量监控与评价中心主要负责人",
                dt.datetime(2022, 7, 1),  # noqa: DTZ001 - an Excel date cell is naive
                dt.datetime(2027, 6, 30),  # noqa: DTZ001 - an Excel date cell is naive
            ],
            ["0042", "周老师", None, "交通运输学院", None, None, None],
        ],
    )
    result = run("import", "people", path)
    assert result.exit_code == 0, result.output
    assert tenures(person(session_factory, "1001")) == {("party_secretary", dt.date(2019, 3, 1), None)}
    sun = person(session_factory, "2001")
    assert sun.unit is not None and sun.unit.function == "quality_center"
    assert tenures(sun) == {("head_quality_center", dt.date(2022, 7, 1), dt.date(2027, 6, 30))}
    assert person(session_factory, "0042").name == "周老师"  # a text cell keeps its leading zero


def test_people_gb18030_csv(run, units, tmp_path, session_factory) -> None:
    text = (
        "工号,姓名,邮箱,单位,职务,任职开始,任职结束\r\n"
        "3001,欧阳锋,ouyang@jti.edu.cn,教务处,教务处主要负责人,2021-09-01,\r\n"
    )
    data_path = write(tmp_path, "people-gbk.csv", text, encoding="gb18030")
    assert Path(data_path).read_bytes() != text.encode("utf-8")  # really not UTF-8
    result = run("import", "people", data_path)
    assert result.exit_code == 0, result.output
    p = person(session_factory, "3001")
    assert p.name == "欧阳锋" and p.unit is not None and p.unit.name == "教务处"
    assert tenures(p) == {("head_academic_affairs", dt.date(2021, 9, 1), None)}


def test_people_several_rows_per_person_are_several_tenures(run, units, tmp_path, session_factory) -> None:
    text = (
        "工号,姓名,单位,职务,任职开始,任职结束\n"
        "1003,赵老师,MX,marxism_school_leader,2020-09-01,2023-08-31\n"
        "1003,赵老师,,marxism_school_leader,2023-09-01,\n"
    )
    result = run("import", "people", write(tmp_path, "p.csv", text))
    assert result.exit_code == 0, result.output
    assert counts(session_factory)[1:] == (1, 2)
    assert tenures(person(session_factory, "1003")) == {
        ("marxism_school_leader", dt.date(2020, 9, 1), dt.date(2023, 8, 31)),
        ("marxism_school_leader", dt.date(2023, 9, 1), None),
    }


def test_people_reimport_updates_replaces_positions_and_never_duplicates(
    run, units, tmp_path, session_factory
) -> None:
    first = (
        "employee_no,name,email,unit,positions,tenure_start,tenure_end\n"
        "1001,王书记,wang@jti.edu.cn,,party_secretary;school_leader,2019-03-01,\n"
        "1002,李院长,li@jti.edu.cn,TR,college_dean,2024-09-01,\n"
        "1003,赵老师,zhao@jti.edu.cn,MX,marxism_school_leader,2023-09-01,\n"
    )
    assert run("import", "people", write(tmp_path, "a.csv", first)).exit_code == 0
    assert counts(session_factory)[1:] == (3, 4)

    result = run("import", "people", write(tmp_path, "b.csv", first))
    assert result.exit_code == 0, result.output
    assert "created 0, updated 0, unchanged 3" in result.output
    assert counts(session_factory)[1:] == (3, 4)

    second = (
        "employee_no,name,email,unit,positions,tenure_start,tenure_end\n"
        "1001,王书记,wang@jti.edu.cn,,party_secretary,2019-03-01,\n"  # school_leader dropped
        "1002,李院长,li2@jti.edu.cn,JW,head_academic_affairs,2026-03-01,\n"  # moved unit and position
        "1003,赵老师,zhao@jti.edu.cn,MX,marxism_school_leader,2023-09-01,2026-08-31\n"  # term ends
    )
    result = run("import", "people", write(tmp_path, "c.csv", second))
    assert result.exit_code == 0, result.output
    assert "created 0, updated 3, unchanged 0" in result.output
    assert counts(session_factory)[1:] == (3, 3)
    assert tenures(person(session_factory, "1001")) == {("party_secretary", dt.date(2019, 3, 1), None)}
    li = person(session_factory, "1002")
    assert (li.email, li.unit.code if li.unit else None) == ("li2@jti.edu.cn", "JW")
    assert tenures(li) == {("head_academic_affairs", dt.date(2026, 3, 1), None)}
    assert tenures(person(session_factory, "1003")) == {
        ("marxism_school_leader", dt.date(2023, 9, 1), dt.date(2026, 8, 31))
    }


def test_people_not_in_the_file_and_columns_not_in_the_file_are_left_alone(
    run, units, tmp_path, session_factory
) -> None:
    full = (
        "employee_no,name,email,unit,positions,tenure_start\n"
        "1001,王书记,wang@jti.edu.cn,,party_secretary,2019-03-01\n"
        "1002,李院长,li@jti.edu.cn,TR,college_dean,2024-09-01\n"
    )
    assert run("import", "people", write(tmp_path, "a.csv", full)).exit_code == 0
    names_only = "工号,姓名\n1002,李院长（更名）\n"
    result = run("import", "people", write(tmp_path, "b.csv", names_only))
    assert result.exit_code == 0, result.output
    li = person(session_factory, "1002")
    assert li.name == "李院长（更名）" and li.email == "li@jti.edu.cn" and li.unit is not None
    assert tenures(li) == {("college_dean", dt.date(2024, 9, 1), None)}
    assert tenures(person(session_factory, "1001")) == {("party_secretary", dt.date(2019, 3, 1), None)}


GOOD_HEADER = "employee_no,name,email,unit,positions,tenure_start,tenure_end\n"


@pytest.mark.parametrize(
    ("bad_line", "column"),
    [
        (",无工号,x@jti.edu.cn,TR,,,", "employee_no"),
        ("9001,坏邮箱,not-an-email,TR,,,", "email"),
        ("9001,无此单位,x@jti.edu.cn,物理学院,,,", "unit"),
        ("9001,无此职务,x@jti.edu.cn,TR,dean_of_everything,,", "positions"),
        ("9001,坏日期,x@jti.edu.cn,TR,college_dean,2024-13-01,", "tenure_start"),
        ("9001,结束早于开始,x@jti.edu.cn,TR,college_dean,2024-09-01,2024-08-31", "tenure_end"),
        ("1001,另一个名字,x@jti.edu.cn,TR,,,", "name"),  # conflicts with row 2
        ("1001,王书记,other@jti.edu.cn,,,,", "email"),  # conflicts with row 2
        ("1001,王书记,,JW,,,", "unit"),  # conflicts with row 2 (TR)
        ("1001,王书记,,,party_secretary,2019-03-01,2030-01-01", "tenure_end"),  # same tenure, other end
    ],
)
def test_people_bad_row_is_reported_and_nothing_is_stored(
    run, units, tmp_path, session_factory, bad_line, column
) -> None:
    good = ["1001,王书记,wang@jti.edu.cn,TR,party_secretary,2019-03-01,"]
    good += [f"{5000 + i},教师{i},t{i}@jti.edu.cn,TR,,," for i in range(60)]
    text = GOOD_HEADER + "\n".join([*good, bad_line]) + "\n"
    bad_row = len(good) + 2  # the header is row 1
    before = counts(session_factory)
    result = run("import", "people", write(tmp_path, "bad.csv", text))
    assert result.exit_code == 2, result.output
    assert f"(row {bad_row}, column {column})" in result.output
    assert "nothing was imported" in result.output
    assert counts(session_factory) == before == (4, 0, 0)


def test_people_bad_row_on_reimport_changes_nothing_stored(run, units, tmp_path, session_factory) -> None:
    text = GOOD_HEADER + "1001,王书记,wang@jti.edu.cn,TR,party_secretary,2019-03-01,\n"
    assert run("import", "people", write(tmp_path, "a.csv", text)).exit_code == 0
    changed = (
        GOOD_HEADER + "1001,王书记（改）,wang@jti.edu.cn,JW,school_leader,2020-01-01,\n"
        "1002,李院长,li@jti.edu.cn,TR,college_dean,2024-09-01,2024-01-01\n"
    )
    result = run("import", "people", write(tmp_path, "b.csv", changed))
    assert result.exit_code == 2, result.output
    assert "(row 3, column tenure_end)" in result.output
    wang = person(session_factory, "1001")
    assert wang.name == "王书记" and wang.unit is not None and wang.unit.code == "TR"
    assert tenures(wang) == {("party_secretary", dt.date(2019, 3, 1), None)}
    assert counts(session_factory)[1:] == (1, 1)


def test_people_errors_name_the_column_as_the_file_does(run, units, tmp_path, session_factory) -> None:
    text = "工号,姓名,邮箱\n1001,王书记,wang@jti.edu.cn\n1002,李院长,li@@\n"
    result = run("import", "people", write(tmp_path, "bad.csv", text))
    assert result.exit_code == 2
    assert "第 3 行，列“邮箱”" in result.output
    assert counts(session_factory)[1] == 0


def test_people_missing_required_column(run, units, tmp_path, session_factory) -> None:
    result = run("import", "people", write(tmp_path, "bad.csv", "name,email\n王,w@jti.edu.cn\n"))
    assert result.exit_code == 2
    assert "employee_no" in result.output and "工号" in result.output


# -- institutions --------------------------------------------------------------------------------------
def test_institution_option_needed_only_when_several_exist(run, jti, tmp_path, session_factory) -> None:
    path = write(tmp_path, "units.csv", UNITS_CSV)
    assert run("institution", "add", "OTHER", "--name", "另一所学院").exit_code == 0
    result = run("import", "units", path)
    assert result.exit_code == 2
    assert "--institution" in result.output
    assert counts(session_factory, "JTI")[0] == counts(session_factory, "OTHER")[0] == 0

    result = run("import", "units", path, "--institution", "OTHER")
    assert result.exit_code == 0, result.output
    assert (counts(session_factory, "JTI")[0], counts(session_factory, "OTHER")[0]) == (0, 4)

    result = run("import", "units", path, "--institution", "NOPE")
    assert result.exit_code == 2
    assert "NOPE" in result.output


def test_same_employee_number_in_two_institutions_are_two_people(run, jti, tmp_path, session_factory) -> None:
    assert run("institution", "add", "OTHER", "--name", "另一所学院").exit_code == 0
    path = write(tmp_path, "p.csv", "工号,姓名\n1001,王书记\n")
    assert run("import", "people", path, "--institution", "JTI").exit_code == 0
    assert run("import", "people", path, "--institution", "OTHER").exit_code == 0
    assert counts(session_factory, "JTI")[1] == counts(session_factory, "OTHER")[1] == 1


def test_missing_file_is_a_clear_error(run, jti, tmp_path) -> None:
    result = run("import", "people", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "nope.csv" in result.output


def test_users_unmatched_and_link(run, units, tmp_path, session_factory) -> None:
    from lti_tool.directory.models import PlatformUser
    from lti_tool.lti.models import Platform

    assert run("import", "people", write(tmp_path, "p.csv", "工号,姓名\n1001,王书记\n")).exit_code == 0
    with session_factory.begin() as s:
        inst_id = s.scalar(select(Institution.id).where(Institution.code == "JTI"))
        platform = Platform(
            institution_id=inst_id,
            issuer="https://moodle.jti.edu.cn",
            client_id="c",
            auth_login_url="https://moodle.jti.edu.cn/a",
            auth_token_url="https://moodle.jti.edu.cn/t",
            key_set_url="https://moodle.jti.edu.cn/k",
        )
        s.add(platform)
        s.flush()
        user = PlatformUser(
            institution_id=inst_id,
            platform_id=platform.id,
            lti_user_id="42",
            name="王某",
            email="w@elsewhere.cn",
        )
        s.add(user)
        s.flush()
        user_id = user.id
    listed = run("users", "unmatched")
    assert listed.exit_code == 0 and f"{user_id}\t王某\tw@elsewhere.cn" in listed.output
    refused = run("users", "link", str(user_id), "9999")
    assert refused.exit_code == 2 and "9999" in refused.output
    assert run("users", "link", str(user_id), "1001").exit_code == 0
    assert "王某" not in run("users", "unmatched").output
    with session_factory() as s:
        linked = s.get(PlatformUser, user_id)
        assert linked is not None and linked.person is not None and linked.person.employee_no == "1001"
