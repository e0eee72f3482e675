"""Semesters, the period table and the timetable import (issue 3 §1–2), through the CLI and the
quality center's pages.

The expected session counts are computed by hand for semester 2026-2027-1 (week 1 = Monday
2026-09-07, 16 weeks, holidays 2026-10-01..2026-10-07, i.e. Thu–Sun of week 4 and Mon–Wed of week 5):

| course | weekday | weeks | sessions |
|---|---|---|---|
| MKS101 思政 | Thu | 1-16 | 16 − Thu 10-01 = 15 |
| CS201 | Mon | 1-16单 (1,3,…,15) | 8 − Mon 10-05 (week 5) = 7 |
| CS202 | Fri | 2-16双 (2,4,…,16) | 8 − Fri 10-02 (week 4) = 7 |
| EN101 | Tue | 1-8,10-18 (17, 18 are beyond the semester) | 15 − Tue 10-06 = 14 |
| PT101 (not full-time) | Sat | 1-4 | 4 − Sat 10-03 = 3 |

46 sessions in all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from lti_tool.directory.models import Person, Unit
from lti_tool.observations.models import MemberRole, MemberStatus, Observation, ObservationMember
from lti_tool.timetable.importer import TimetableImporter
from lti_tool.timetable.models import ClassSession, Course, CourseSection, Period, SectionTeacher, Semester
from lti_tool.timetable.periods import PeriodService
from lti_tool.timetable.semesters import SemesterService
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser

SEMESTER = "2026-2027-1"
MONDAY = dt.date(2026, 9, 7)
HOLIDAYS = "2026-10-01..2026-10-07"

PERIODS_EN = [
    ["period", "start", "end"],
    ["1", "08:00", "08:45"],
    ["2", "08:55", "09:40"],
    ["3", "10:00", "10:45"],
    ["4", "10:55", "11:40"],
    ["5", "13:30", "14:15"],
    ["6", "14:25", "15:10"],
]
PERIODS_ZH = [["节次", "开始", "结束"], *PERIODS_EN[1:]]

HEADER_EN = [
    "semester",
    "course_code",
    "course_name",
    "course_kind",
    "offering unit",
    "teacher_no",
    "classes",
    "student unit",
    "weekday",
    "periods",
    "weeks",
    "room",
    "full_time",
]
HEADER_ZH = [
    "学期",
    "课程代码",
    "课程名称",
    "课程类别",
    "开课单位",
    "教师工号",
    "上课班级",
    "学生所属单位",
    "星期",
    "节次",
    "周次",
    "教室",
    "全日制",
]
ROWS = [
    [
        SEMESTER,
        "MKS101",
        "思想道德与法治",
        "思政必修",
        "马克思主义学院",
        "M001;M002",
        "计算机2301;计算机2302",
        "计算机学院",
        "4",
        "1-2",
        "1-16",
        "A101",
        "是",
    ],
    [
        SEMESTER,
        "CS201",
        "数据结构",
        "专业必修",
        "计算机学院",
        "T001",
        "计算机2301",
        "计算机学院",
        "1",
        "3-4",
        "1-16单",
        "B201",
        "是",
    ],
    [
        SEMESTER,
        "CS202",
        "操作系统",
        "专业必修",
        "计算机学院",
        "T002",
        "计算机2302",
        "计算机学院",
        "5",
        "5-6",
        "2-16双",
        "B202",
        "yes",
    ],
    [
        SEMESTER,
        "EN101",
        "大学英语",
        "公共基础",
        "计算机学院",
        "T003;T001",
        "计算机2301",
        "计算机学院",
        "2",
        "1-2",
        "1-8,10-18",
        "C301",
        "是",
    ],
    [
        SEMESTER,
        "PT101",
        "成人教育导论",
        "专业选修",
        "计算机学院",
        "T002",
        "成教2301",
        "计算机学院",
        "6",
        "1-2",
        "1-4",
        "C302",
        "否",
    ],
]
EXPECTED = {"MKS101": 15, "CS201": 7, "CS202": 7, "EN101": 14, "PT101": 3}


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        # small numbers as a spreadsheet holds them (numeric cells), the rest as text
        ws.append([int(v) if v.isdigit() and len(v) < 3 else v for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def make_roster(session_factory, institution_id: int) -> None:
    """Units and people the timetable names (teachers M001, M002, T001–T003) and a quality-center user."""
    with session_factory.begin() as s:
        cs = Unit(institution_id=institution_id, code="CS", name="计算机学院", kind="college")
        mx = Unit(institution_id=institution_id, code="MX", name="马克思主义学院", kind="marxism_school")
        qc = Unit(
            institution_id=institution_id,
            code="QC",
            name="教学质量监控与评价中心",
            kind="department",
            function="quality_center",
        )
        s.add_all([cs, mx, qc])
        s.flush()
        for no, name, unit in [
            ("M001", "马老师", mx),
            ("M002", "思老师", mx),
            ("T001", "张老师", cs),
            ("T003", "王老师", cs),
            ("T002", "李老师", cs),
        ]:
            s.add(Person(institution_id=institution_id, employee_no=no, name=name, unit_id=unit.id))
        s.add(
            Person(
                institution_id=institution_id,
                employee_no="Q001",
                name="质控员",
                email="qc@jti.edu",
                unit_id=qc.id,
            )
        )


def setup_semester(session_factory, institution_id: int, rows: list[list[str]] | None = None) -> None:
    """Semester, periods and (optionally) a timetable, through the services."""
    with session_factory.begin() as s:
        SemesterService(s, institution_id).add(SEMESTER, MONDAY, 16, [HOLIDAYS])
        PeriodService(s, institution_id).import_periods(csv_bytes(PERIODS_EN), "periods.csv")
        if rows is not None:
            TimetableImporter(s, institution_id).import_file(csv_bytes([HEADER_EN, *rows]), "timetable.csv")


def counts_by_course(session_factory) -> dict[str, int]:
    with session_factory() as s:
        rows = s.execute(
            select(Course.code, func.count(ClassSession.id))
            .join(CourseSection, CourseSection.course_id == Course.id)
            .join(ClassSession, ClassSession.section_id == CourseSection.id)
            .group_by(Course.code)
        )
        return {code: int(n) for code, n in rows}


def session_rows(session_factory) -> dict[tuple[str, dt.date], ClassSession]:
    with session_factory() as s:
        return {(cs.section.course.code, cs.date): cs for cs in s.scalars(select(ClassSession))}


def check_expansion(session_factory) -> None:
    assert counts_by_course(session_factory) == EXPECTED
    sessions = session_rows(session_factory)
    # holidays are skipped, the rest of the week is there
    assert ("MKS101", dt.date(2026, 10, 1)) not in sessions
    assert ("MKS101", dt.date(2026, 10, 8)) in sessions
    assert ("CS201", dt.date(2026, 10, 5)) not in sessions and ("CS201", dt.date(2026, 9, 21)) in sessions
    assert ("CS201", dt.date(2026, 9, 14)) not in sessions  # week 2 is even
    assert ("CS202", dt.date(2026, 9, 18)) in sessions and ("CS202", dt.date(2026, 9, 11)) not in sessions
    assert ("EN101", dt.date(2026, 11, 3)) not in sessions  # week 9 is left out
    assert max(d for c, d in sessions if c == "EN101") == dt.date(2026, 12, 22)  # week 16; 17-18 skipped
    first = sessions[("CS201", dt.date(2026, 9, 7))]
    assert (first.week, first.period_start, first.period_end) == (1, 3, 4)
    assert (first.starts_at, first.ends_at, first.room) == (dt.time(10, 0), dt.time(11, 40), "B201")
    assert sessions[("MKS101", dt.date(2026, 12, 24))].week == 16
    with session_factory() as s:
        mks = s.scalars(select(CourseSection).join(Course).where(Course.code == "MKS101")).one()
        assert [t.employee_no for t in mks.teachers] == ["M001", "M002"]
        assert mks.classes == "计算机2301;计算机2302" and mks.course.kind == "思政必修"
        assert mks.course.offering_unit.name == "马克思主义学院" and mks.student_unit.name == "计算机学院"
        pt = s.scalars(select(CourseSection).join(Course).where(Course.code == "PT101")).one()
        assert pt.full_time is False


def qc_launch(launcher):
    return launcher.launch(LmsUser("qc-1", "质控员", "qc@jti.edu", "Q001", [ROLE_INSTRUCTOR]))


def csrf_of(page_text: str) -> str:
    match = re.search(r'data-csrf="([^"]+)"', page_text)
    assert match, "page has no CSRF token"
    return match.group(1)


def upload(client, launch, path: str, data: bytes, filename: str):
    page = launch.get(client, path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(
        f"{path}?s={launch.token}",
        data={"csrf": csrf_of(page.get_data(as_text=True)), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


# -- CLI -------------------------------------------------------------------------------------------------
def test_cli_semester_periods_and_timetable(roster, run_cli, session_factory, tmp_path) -> None:
    result = run_cli(
        "semester",
        "add",
        SEMESTER,
        "--start",
        "2026-09-07",
        "--weeks",
        "16",
        "--holiday",
        HOLIDAYS,
        "--holiday",
        "2026-09-25",
    )
    assert result.exit_code == 0, result.output
    assert "2026-09-07..2026-12-27" in result.output and "8 holiday(s)" in result.output
    periods = tmp_path / "periods.csv"
    periods.write_bytes(csv_bytes(PERIODS_EN))
    assert run_cli("import", "periods", str(periods)).exit_code == 0
    timetable = tmp_path / "timetable.csv"
    timetable.write_bytes(csv_bytes([HEADER_EN, *ROWS]))
    result = run_cli("import", "timetable", str(timetable))  # a dry run: shows what would change
    assert result.exit_code == 0, result.output
    assert "sections: 5 added" in result.output and "46 added, 0 changed, 0 removed" in result.output
    assert "dry run: nothing stored" in result.output
    assert counts_by_course(session_factory) == {}
    result = run_cli("import", "timetable", str(timetable), "--apply")
    assert result.exit_code == 0, result.output
    assert "imported" in result.output
    # 2026-09-25 (Fri, week 3) is a holiday too: CS202 only meets in even weeks, so nothing else changes
    assert counts_by_course(session_factory) == EXPECTED
    listing = run_cli("semester", "list")
    assert SEMESTER in listing.output and "5 sections" in listing.output and "46 sessions" in listing.output


def test_cli_semester_add_refuses_bad_input(roster, run_cli, session_factory) -> None:
    result = run_cli(
        "semester", "add", SEMESTER, "--start", "2026-09-08", "--weeks", "16", "--holiday", "2027-03-01"
    )
    assert result.exit_code == 2
    assert "Monday" in result.output and "outside the semester" in result.output
    result = run_cli("semester", "add", "2026-2028-1", "--start", "2026-09-07", "--weeks", "40")
    assert result.exit_code == 2 and "consecutive" in result.output and "weeks" in result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Semester)) == 0
    assert run_cli("semester", "add", SEMESTER, "--start", "2026-09-07", "--weeks", "16").exit_code == 0
    again = run_cli("semester", "add", SEMESTER, "--start", "2026-09-07", "--weeks", "16")
    assert again.exit_code == 2 and "already exists" in again.output
    overlap = run_cli("semester", "add", "2026-2027-2", "--start", "2026-12-14", "--weeks", "18")
    assert overlap.exit_code == 2 and "overlaps" in overlap.output


def test_cli_bad_timetable_names_row_and_column(roster, run_cli, session_factory, tmp_path) -> None:
    setup_semester(session_factory, roster)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([HEADER_EN, ROWS[0], [*ROWS[1][:5], "X999", *ROWS[1][6:]]]))
    result = run_cli("import", "timetable", str(bad))
    assert result.exit_code == 2
    assert "row 3, column teacher_no" in result.output
    assert counts_by_course(session_factory) == {}


# -- pages -----------------------------------------------------------------------------------------------
def test_quality_center_sets_up_a_semester_from_xlsx_with_chinese_headers(
    roster, launcher, client, session_factory
):
    qc = qc_launch(launcher)
    page = qc.get(client, "/timetable/semesters")
    assert page.status_code == 200
    response = client.post(
        f"/timetable/semesters?s={qc.token}",
        data={
            "csrf": csrf_of(page.get_data(as_text=True)),
            "code": SEMESTER,
            "start": "2026-09-07",
            "weeks": "16",
            "holidays": "2026-10-01..2026-10-07\n",
        },
    )
    assert response.status_code == 303
    listing = client.get(response.headers["Location"])
    assert SEMESTER in listing.get_data(as_text=True)

    response = upload(client, qc, "/timetable/periods", xlsx_bytes(PERIODS_ZH), "节次表.xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "14:25" in response.get_data(as_text=True)
    with session_factory() as s:
        assert [p.number for p in s.scalars(select(Period).order_by(Period.number))] == [1, 2, 3, 4, 5, 6]

    response = upload(client, qc, "/timetable/import", xlsx_bytes([HEADER_ZH, *ROWS]), "课表.xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)
    preview = response.get_data(as_text=True)
    assert 'id="import-preview"' in preview and counts_by_course(session_factory) == {}  # nothing yet
    token = re.search(r'name="token" value="([^"]+)"', preview)
    assert token
    response = client.post(
        f"/timetable/import/confirm?s={qc.token}", data={"csrf": csrf_of(preview), "token": token.group(1)}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert 'id="import-result"' in response.get_data(as_text=True)
    check_expansion(session_factory)


def test_csv_with_english_headers_expands_the_same(roster, session_factory) -> None:
    setup_semester(session_factory, roster, ROWS)
    check_expansion(session_factory)


def test_reimport_is_idempotent(roster, session_factory) -> None:
    setup_semester(session_factory, roster, ROWS)
    before = {k: (v.id, v.starts_at, v.room, v.status) for k, v in session_rows(session_factory).items()}
    with session_factory.begin() as s:
        # the same file as XLSX with Chinese headers and weeks written another way is the same timetable
        rows = [[*r[:10], r[10].replace("1-16", "1-16周"), *r[11:]] for r in ROWS]
        result = TimetableImporter(s, roster).import_file(xlsx_bytes([HEADER_ZH, *rows]), "again.xlsx")
    assert (result.sections_created, result.sections_updated, result.sections_removed) == (0, 0, 0)
    assert result.sections_unchanged == 5
    assert (result.sessions_created, result.sessions_updated, result.sessions_removed) == (0, 0, 0)
    after = {k: (v.id, v.starts_at, v.room, v.status) for k, v in session_rows(session_factory).items()}
    assert after == before


def test_unobserved_changes_are_simply_applied(roster, session_factory) -> None:
    setup_semester(session_factory, roster, ROWS)
    changed = [list(r) for r in ROWS]
    changed[1][11] = "B999"  # CS201 moves room
    changed[1][10] = "1-16"  # … and now meets every week: a new natural key
    del changed[2]  # CS202 is gone
    with session_factory.begin() as s:
        # the file is the semester's whole timetable: CS202 goes (an update would keep it)
        result = TimetableImporter(s, roster).import_file(
            csv_bytes([HEADER_EN, *changed]), "t.csv", replace=True
        )
    assert result.sections_removed == 2 and result.sections_created == 1
    assert result.flagged_changed == result.flagged_vanished == 0
    counts = counts_by_course(session_factory)
    assert counts == {"MKS101": 15, "CS201": 15, "EN101": 14, "PT101": 3}  # CS201: 16 − Mon 10-05
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(CourseSection)) == 4
        assert set(
            s.scalars(
                select(ClassSession.room).join(CourseSection).join(Course).where(Course.code == "CS201")
            )
        ) == {"B999"}
        assert set(s.scalars(select(ClassSession.status))) == {"active"}


def _observe(session_factory, institution_id: int, course: str, day: dt.date, narrative: str) -> int:
    """An observation record of the session (as the observation pages would leave it)."""
    with session_factory.begin() as s:
        session = s.scalars(
            select(ClassSession)
            .join(CourseSection)
            .join(Course)
            .where(Course.code == course, ClassSession.date == day)
        ).one()
        author = s.scalars(select(Person).where(Person.employee_no == "Q001")).one()
        obs = Observation(
            institution_id=institution_id,
            session_id=session.id,
            semester_id=session.semester_id,
            author_id=author.id,
            status="submitted",
            narrative=narrative,
            extra={},
        )
        obs.members.append(
            ObservationMember(
                institution_id=institution_id,
                person_id=author.id,
                session_id=session.id,
                role=MemberRole.AUTHOR,
                status=MemberStatus.SIGNED,
            )
        )
        s.add(obs)
        s.flush()
        return session.id


def test_observed_sessions_survive_changed_and_vanished_reimports(roster, session_factory) -> None:
    setup_semester(session_factory, roster, ROWS)
    mks = _observe(session_factory, roster, "MKS101", dt.date(2026, 9, 17), "思政课记录")
    cs202 = _observe(session_factory, roster, "CS202", dt.date(2026, 9, 18), "操作系统记录")
    en = _observe(session_factory, roster, "EN101", dt.date(2026, 9, 22), "英语记录")

    changed = [list(r) for r in ROWS]
    changed[0][5] = "M001"  # MKS101: one teacher fewer (same row, changed)
    changed[3][10] = "1-16"  # EN101: weeks edited (a new row at the same meeting times)
    del changed[2]  # CS202: gone (the file replaces the semester's timetable)
    with session_factory.begin() as s:
        result = TimetableImporter(s, roster).import_file(
            csv_bytes([HEADER_EN, *changed]), "t.csv", replace=True
        )
    assert (result.flagged_changed, result.flagged_vanished) == (2, 1)

    with session_factory() as s:
        status = {cs.id: cs.status for cs in s.scalars(select(ClassSession))}
        assert status[mks] == "changed" and status[en] == "changed" and status[cs202] == "vanished"
        # the other sessions of the changed row carry no flag; unobserved CS202 sessions are gone
        others = [st for sid, st in status.items() if sid not in (mks, en, cs202)]
        assert set(others) == {"active"}
        narratives = {o.narrative for o in s.scalars(select(Observation))}
        assert narratives == {"思政课记录", "操作系统记录", "英语记录"}
        moved = s.get(ClassSession, en)
        assert moved.section.weeks_spec == "1-16" and moved.date == dt.date(2026, 9, 22)
        assert [t.employee_no for t in s.get(ClassSession, mks).section.teachers] == ["M001"]
        # CS202's section stays only for the session that is kept
        cs202_sections = s.scalars(select(CourseSection).join(Course).where(Course.code == "CS202")).all()
        assert len(cs202_sections) == 1
        assert (
            s.scalar(
                select(func.count())
                .select_from(ClassSession)
                .where(ClassSession.section_id == cs202_sections[0].id)
            )
            == 1
        )
        assert (
            s.scalar(
                select(func.count())
                .select_from(SectionTeacher)
                .where(SectionTeacher.section_id == cs202_sections[0].id)
            )
            == 1
        )
    # EN101 now has weeks 1-16 minus Tue 10-06: 15 sessions, the observed one among them (no duplicate)
    assert counts_by_course(session_factory) == {
        "MKS101": 15,
        "CS202": 1,
        "EN101": 15,
        "PT101": 3,
        "CS201": 7,
    }

    with session_factory.begin() as s:  # the same changed file again: nothing new is flagged
        again = TimetableImporter(s, roster).import_file(
            csv_bytes([HEADER_EN, *changed]), "t.csv", replace=True
        )
    assert (
        again.flagged_changed,
        again.flagged_vanished,
        again.sessions_created,
        again.sessions_removed,
        again.sessions_updated,
    ) == (0, 0, 0, 0, 0)
    with session_factory.begin() as s:  # and the original file brings CS202's observed session back
        back = TimetableImporter(s, roster).import_file(csv_bytes([HEADER_EN, *ROWS]), "t.csv")
    assert back.flagged_vanished == 0
    with session_factory() as s:
        assert s.get(ClassSession, cs202).status == "active"
        assert s.scalars(select(Observation.id).where(Observation.session_id == cs202)).one()


BAD_ROWS = [
    [
        SEMESTER,
        "MKS101",
        "思想道德与法治",
        "思政必修",
        "马克思主义学院",
        "M001;X404",
        "计算机2301",
        "计算机学院",
        "4",
        "1-2",
        "1-16",
        "A101",
        "是",
    ],
    [
        SEMESTER,
        "CS201",
        "数据结构",
        "专业必修",
        "不存在学院",
        "T001",
        "计算机2301",
        "计算机学院",
        "1",
        "3-4",
        "1-16",
        "B201",
        "是",
    ],
    [
        SEMESTER,
        "CS202",
        "操作系统",
        "专业必修",
        "计算机学院",
        "T002",
        "计算机2302",
        "计算机学院",
        "8",
        "5-6",
        "1-16",
        "B202",
        "是",
    ],
    [
        SEMESTER,
        "CS203",
        "网络",
        "专业必修",
        "计算机学院",
        "T002",
        "计算机2302",
        "计算机学院",
        "3",
        "9-10",
        "1-16",
        "B202",
        "是",
    ],
    [
        SEMESTER,
        "CS204",
        "编译",
        "专业必修",
        "计算机学院",
        "T002",
        "计算机2302",
        "计算机学院",
        "3",
        "1-2",
        "16-1",
        "B202",
        "是",
    ],
    [
        "2030-2031-1",
        "CS205",
        "数据库",
        "专业必修",
        "计算机学院",
        "T002",
        "计算机2302",
        "计算机学院",
        "3",
        "3-4",
        "1-16",
        "B202",
        "是",
    ],
    [
        SEMESTER,
        "CS206",
        "算法",
        "专业必修",
        "计算机学院",
        "T002",
        "计算机2302",
        "计算机学院",
        "3",
        "5-6",
        "1-16",
        "B202",
        "也许",
    ],
    [
        SEMESTER,
        "EN101",
        "大学英语",
        "公共基础",
        "计算机学院",
        "T003",
        "计算机2301",
        "计算机学院",
        "2",
        "1-2",
        "1-16",
        "C301",
        "是",
    ],
]


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_stored(
    roster, launcher, client, session_factory
):
    setup_semester(session_factory, roster)
    qc = qc_launch(launcher)
    response = upload(client, qc, "/timetable/import", csv_bytes([HEADER_ZH, *BAD_ROWS]), "课表.csv")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    for row, column in [
        (2, "教师工号"),
        (3, "开课单位"),
        (4, "星期"),
        (5, "节次"),
        (6, "周次"),
        (7, "学期"),
        (8, "全日制"),
    ]:
        assert f"row {row}, column {column}" in text, (row, column)
    assert "row 9" not in text  # the good row is not blamed
    assert "X404" in text
    assert counts_by_course(session_factory) == {}
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Course)) == 0
        assert s.scalar(select(func.count()).select_from(CourseSection)) == 0


def test_a_bad_file_leaves_the_stored_timetable_alone(roster, session_factory) -> None:
    setup_semester(session_factory, roster, ROWS)
    before = {k: (v.id, v.room) for k, v in session_rows(session_factory).items()}
    with session_factory() as s:
        with pytest.raises(Exception) as info:
            TimetableImporter(s, roster).import_file(csv_bytes([HEADER_EN, ROWS[0], BAD_ROWS[2]]), "t.csv")
        assert "row 3, column weekday" in " ".join(info.value.details)  # type: ignore[attr-defined]
        s.rollback()
    assert {k: (v.id, v.room) for k, v in session_rows(session_factory).items()} == before


def test_duplicate_rows_and_missing_columns(roster, session_factory) -> None:
    setup_semester(session_factory, roster)
    with session_factory() as s:
        importer = TimetableImporter(s, roster)
        with pytest.raises(Exception) as info:
            same = [*ROWS[1][:10], "1-16单周", *ROWS[1][11:]]
            importer.import_file(csv_bytes([HEADER_EN, ROWS[1], same]), "t.csv")
        assert any("row 3, column weeks" in d and "row 2" in d for d in info.value.details)  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="weeks"):
            no_weeks = [[h for h in HEADER_EN if h != "weeks"], ROWS[0][:10] + ROWS[0][11:]]
            importer.import_file(csv_bytes(no_weeks), "t.csv")


def test_period_table_validation(roster, launcher, client, session_factory) -> None:
    qc = qc_launch(launcher)
    bad = [
        ["节次", "开始", "结束"],
        ["1", "08:00", "08:45"],
        ["2", "08:30", "09:10"],
        ["3", "10:00", "9:00"],
        ["3", "11:00", "11:45"],
        ["x", "12:00", "12:45"],
    ]
    response = upload(client, qc, "/timetable/periods", csv_bytes(bad), "periods.csv")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    for row, column in [(3, "开始"), (4, "结束"), (5, "节次"), (6, "节次")]:
        assert f"row {row}, column {column}" in text, (row, column)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Period)) == 0


def test_timetable_rows_need_the_period_table(roster, session_factory) -> None:
    with session_factory.begin() as s:
        SemesterService(s, roster).add(SEMESTER, MONDAY, 16, [])
    with session_factory() as s:
        with pytest.raises(Exception) as info:
            TimetableImporter(s, roster).import_file(csv_bytes([HEADER_EN, ROWS[0]]), "t.csv")
        assert "import periods first" in " ".join(info.value.details)  # type: ignore[attr-defined]


def test_semester_of_a_date(roster, session_factory) -> None:
    setup_semester(session_factory, roster)
    with session_factory() as s:
        service = SemesterService(s, roster)
        assert service.of_date(dt.date(2026, 9, 7)).code == SEMESTER
        assert service.of_date(dt.date(2026, 12, 27)).code == SEMESTER
        assert service.of_date(dt.date(2026, 12, 28)) is None
        assert service.of_date(dt.date(2026, 9, 6)) is None
        assert service.current_or_next(dt.date(2026, 8, 1)).code == SEMESTER


def test_pages_are_for_the_quality_center_only(roster, launcher, client, session_factory) -> None:
    with session_factory.begin() as s:
        s.add(Person(institution_id=roster, employee_no="L001", name="校领导", email="leader@jti.edu"))
        s.flush()
        from lti_tool.directory.models import PositionHolding

        s.add(
            PositionHolding(
                institution_id=roster,
                person_id=s.scalars(select(Person.id).where(Person.employee_no == "L001")).one(),
                position_code="school_leader",
            )
        )
    leader = launcher.launch(LmsUser("l-1", "校领导", "leader@jti.edu", "L001", [ROLE_INSTRUCTOR]))
    for path in ("/timetable/semesters", "/timetable/periods", "/timetable/import", "/timetable/mappings"):
        assert leader.get(client, path).status_code == 403, path
    qc = qc_launch(launcher)
    for path in ("/timetable/semesters", "/timetable/periods", "/timetable/import", "/timetable/mappings"):
        assert qc.get(client, path).status_code == 200, path
    home = qc.get(client, "/home")
    assert home.status_code == 200 and "/timetable/import" in home.get_data(as_text=True)


def test_class_names_of_the_timetable_become_student_classes(roster, session_factory) -> None:
    """Issue 9 §1: each 上课班级 seen is a student class of the directory, with its 学生所属单位."""
    from lti_tool.directory.models import StudentClass

    setup_semester(session_factory, roster, ROWS)
    with session_factory.begin() as s:  # again: nothing duplicated
        TimetableImporter(s, roster).import_file(xlsx_bytes([HEADER_ZH, *ROWS]), "again.xlsx")
    with session_factory() as s:
        got = {c.name: (c.unit.name if c.unit else None, c.source) for c in s.scalars(select(StudentClass))}
    expected = {name: (row[7] or None, "timetable") for row in ROWS for name in row[6].split(";") if name}
    assert got == expected
    assert got["计算机2301"] == ("计算机学院", "timetable")
