"""The builders through the job function ``run_report`` (as the worker calls them) and ``tingke report``."""

from __future__ import annotations

import datetime as dt
import io
import re

import pypdf
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lti_tool.directory.models import Person
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.report import missing_units, semester_label, suggestions
from lti_tool.reports.statistics import StatisticsService
from lti_tool.timetable.models import Semester
from tests.support import factories as f
from tests.support import worlds
from worker import jobs


@pytest.fixture
def college(session_factory, worker_db):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return worlds.statistics_world(s)


def _run(
    session_factory,
    built,
    kind: str,
    *,
    semester_id: int | None = None,
    person_no: str | None = None,
) -> ReportRun:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        person_id = None
        if person_no:
            person_id = s.scalars(
                select(Person.id).where(
                    Person.institution_id == built.institution_id, Person.employee_no == person_no
                )
            ).one()
        run = ReportRun(
            institution_id=built.institution_id,
            kind=kind,
            person_id=person_id,
            semester_id=semester_id or built.semester.id,
        )
        s.add(run)
        s.flush()
        run_id = run.id
    jobs.run_report(run_id)
    with session_factory() as s:
        done = s.get(ReportRun, run_id)
        assert done is not None
        return done


def pdf_text(content: bytes) -> str:
    """All pages' text with whitespace removed (line breaks fall anywhere in Chinese text)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def test_execution_report_pdf_contains_the_scenarios_figures(session_factory, college, time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(
        worlds.STATISTICS_NOW, tick=True
    )  # after the semester's last day: the end-of-term report
    run = _run(session_factory, college, "execution_report")
    assert run.status == RunStatus.SUCCEEDED and run.progress == 100, run.error
    assert run.filename == "领导干部听课制度执行情况报告-2026-2027-1.pdf"
    assert run.content is not None and run.content.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(run.content))
    pages = len(reader.pages)
    text = pdf_text(run.content)
    for needle in [
        "吉林交通职业技术学院",
        "领导干部听课制度执行情况报告",
        "2026—2027学年第一学期",
        "目录",
        # 一、总体情况 (the hand count of worlds.statistics_world)
        "任务的领导干部共5人，其中4人有听课记录",
        "共提交听课记录6份，听课7人次",
        "其中集体听课1次",
        "覆盖课堂5节次、授课教师4人，占本学期授课教师5人的80.0%",
        "尚有1名授课教师本学期未被听课",
        "开展课堂巡查5次",
        "共反馈问题3个",
        "2人全部完成听课任务，3人未全部完成，履职完成率为40.0%",
        # 二、三、四
        "校领导未完成名单",
        "张副校长",
        "毛泽东思想和中国特色社会主义理论体系概论（SZ2）",
        "陈院长",
        "马主任",
        "钱老师（T102）",
        "后勤处长",
        # 五、六、七、八、九
        "立德树人融入课程教学",
        "各单位课堂教学评价等级分布",
        "投影仪不清晰",
        "处理情况：已更换灯管",
        "共反馈问题3个，其中来自听课记录2个、来自课堂巡查1个",
        # the text reads the status counts table 6 prints (issue 11 §6: 已处理 18 beside a table's 6)
        "历时（天）",
        "平均分按优4分、良3分、中2分、差1分计算，满分4分",
        "2026年9月",
        "月度听课趋势",
        "与上学期（2025—2026学年第二学期）主要数据对比",
        "九、工作建议",
        "张副校长未全部完成本学期听课任务",
        f"第2页/共{pages}页",
        f"第{pages}页/共{pages}页",
    ]:
        assert needle in text, needle
    assert "另一所学院" not in text and "外校长" not in text


def test_execution_report_reuses_the_stored_snapshot(session_factory, college):  # type: ignore[no-untyped-def]
    _run(session_factory, college, "statistics")
    with session_factory() as s:
        before = StatisticsService(s, college.institution_id).latest_snapshot(college.semester.id)
        assert before is not None
    run = _run(session_factory, college, "execution_report")
    assert run.status == RunStatus.SUCCEEDED
    with session_factory() as s:
        after = StatisticsService(s, college.institution_id).latest_snapshot(college.semester.id)
        assert after is not None and after.id == before.id  # fresh: not recomputed


def test_personal_archive(session_factory, college):  # type: ignore[no-untyped-def]
    run = _run(session_factory, college, "personal_archive", person_no="H001")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.filename == "个人听课档案-陈院长-2026-2027-1.pdf"
    text = pdf_text(run.content or b"")
    for needle in [
        "个人听课档案",
        "陈院长",
        "H001",
        "交通工程学院",
        "教学院（部）行政主要负责人",
        "听课记录2份",
        "O-4",
        "听课≥5次",
        "道路工程（JT1）",
        "汽车构造（QC1）",
        "郑老师",
        "结合教学督导",
        "教师讲解清楚，学生参与积极。",
        "与郑老师交流了板书设计。",
        "感谢指导，已改进。",
        "教学态度",
    ]:
        assert needle in text, needle
    assert "王书记" not in text  # invited on a record but never signed: not a group member shown


def test_tingke_report_command_writes_the_pdf(session_factory, college, settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from lti_tool.cli import cli
    from lti_tool.cli_support import CliContext

    monkeypatch.setenv("TINGKE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TINGKE_INSTANCE_PATH", str(tmp_path / "instance"))

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        ctx = CliContext()  # reads the environment, as the console script would
        try:
            return CliRunner().invoke(cli, list(args), obj=ctx)
        finally:  # a process exit would close the pool; here it must be closed by hand
            if ctx._factory is not None:  # noqa: SLF001
                ctx._factory.kw["bind"].dispose()  # noqa: SLF001

    out = tmp_path / "report.pdf"
    result = invoke("report", "--semester", "2026-2027-1", "--out", str(out), "--institution", "STAT")
    assert result.exit_code == 0, result.output
    assert "共提交听课记录6份" in pdf_text(out.read_bytes())
    archive = tmp_path / "archive.pdf"
    result = invoke(
        "report",
        "--semester",
        "2026-2027-1",
        "--out",
        str(archive),
        "--institution",
        "STAT",
        "--kind",
        "personal_archive",
        "--person",
        "L001",
    )
    assert result.exit_code == 0, result.output
    assert "王书记" in pdf_text(archive.read_bytes())
    bad = invoke("report", "--semester", "1999-2000-1", "--out", str(out), "--institution", "STAT")
    assert bad.exit_code == 2 and "1999-2000-1" in bad.output
    with session_factory() as s:
        runs = s.scalars(select(ReportRun).order_by(ReportRun.id)).all()
        assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]


def test_semester_label_and_suggestions(session_factory, college):  # type: ignore[no-untyped-def]
    assert semester_label("2026-2027-2") == "2026—2027学年第二学期"
    assert semester_label("autumn") == "autumn"
    with session_factory() as s:
        stats = StatisticsService(s, college.institution_id).compute(
            college.semester, now=worlds.STATISTICS_NOW
        )
    text = "".join(suggestions(stats))
    assert "张副校长" in text and "陈院长、马主任" in text
    assert "有1个超过7天仍未办结，涉及后勤处" in text
    assert "1名授课教师未被听课" in text
    assert "“学生课堂纪律”维度平均得分（2.67分，满分4分）" in text


def test_O14_frozen_report_of_a_closed_semester_uses_the_frozen_numbers(session_factory, college):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        s.get(Semester, college.semester.id).status = "archived"  # type: ignore[union-attr]
        runs = [
            ReportRun(
                institution_id=college.institution_id,
                kind=k,
                semester_id=college.semester.id,
                frozen=True,
                version=2,
            )
            for k in ("statistics", "execution_report")
        ]
        s.add_all(runs)
        s.flush()
        stats_id, report_id = runs[0].id, runs[1].id
    jobs.run_report(stats_id)
    with session_factory.begin() as s:  # changed after the snapshot was frozen: not in the archived report
        hq = s.scalars(
            select(Person).where(
                Person.institution_id == college.institution_id, Person.employee_no == "F006"
            )
        ).one()
        f.patrol(s, hq, worlds.D(2026, 12, 21))
    jobs.run_report(report_id)
    with session_factory() as s:
        run = s.get(ReportRun, report_id)
        assert run is not None and run.status == RunStatus.SUCCEEDED, run and run.error
        assert run.filename == "领导干部听课制度执行情况报告-2026-2027-1-第2版.pdf"
        assert "开展课堂巡查5次" in pdf_text(run.content or b"")


def _text_lines(content: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [line for page in reader.pages for line in page.extract_text().splitlines()]


def test_problem_counts_read_the_same_in_the_text_and_in_table_6(session_factory, college, time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(worlds.STATISTICS_NOW, tick=True)
    run = _run(session_factory, college, "execution_report")
    with session_factory() as s:
        pr = StatisticsService(s, college.institution_id).stored(college.semester.id).problems  # type: ignore[union-attr]
    text = pdf_text(run.content or b"")
    closed = "、".join(f"{c.label}{c.count}个" for c in pr.closed_by_status)
    opened = "、".join(f"{c.label}{c.count}个" for c in pr.open_by_status)
    assert f"已办结{pr.closed}个（{closed}）" in text
    assert f"尚未办结{pr.open}个（{opened}）" in text
    # table 6 prints the same counts under the same labels, with the subtotals the text names
    head = (
        "".join(c.label for c in pr.open_by_status) + "小计" + "".join(c.label for c in pr.closed_by_status)
    )
    row = "".join(str(c.count) for c in pr.open_by_status) + str(pr.open)
    row += "".join(str(c.count) for c in pr.closed_by_status) + str(pr.closed) + str(pr.total)
    assert "尚未办结已办结合计" in text and head + "小计" in text and row in text


def test_a_report_made_before_the_semester_ends_says_as_of_and_concludes_nothing(
    session_factory, college, time_machine
):  # type: ignore[no-untyped-def]
    time_machine.move_to(dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC), tick=True)  # Friday of week 11
    run = _run(session_factory, college, "execution_report")
    assert run.status == RunStatus.SUCCEEDED, run.error
    text = pdf_text(run.content or b"")
    assert "截至2026年11月20日（第11周）" in text
    assert "本学期尚未结束，以上为阶段性数据，不作学期结论" in text
    assert "尚未完成名单" in text
    for conclusion in (
        "下学期",
        "纳入年度考核",
        "截至本学期末",
        "较上学期",
        "有所减少",
        "未全部完成本学期听课任务",
    ):
        assert conclusion not in text, conclusion


def test_the_report_never_names_another_institution(session_factory, worker_db, time_machine):  # type: ignore[no-untyped-def]
    """The default policy is 吉林交通职业技术学院's; another college's report speaks of its own policy."""
    time_machine.move_to(worlds.STATISTICS_NOW, tick=True)
    with session_factory.begin() as s:
        built = worlds.statistics_world(s, name="演示职业技术学院")
    for kind in ("execution_report", "bulletin"):
        run = _run(session_factory, built, kind)
        assert run.status == RunStatus.SUCCEEDED, run.error
        text = pdf_text(run.content or b"")
        assert "演示职业技术学院" in text
        assert "吉林" not in text and "吉交院" not in text, kind
        assert "根据学校《领导干部听课制度》" in text


def test_layout_keeps_dates_and_names_whole(session_factory, college, time_machine):  # type: ignore[no-untyped-def]
    """Dates and names are never broken across lines of a table cell (the demo report once printed
    "2026-09-0" above "8"); the 尚缺 list counts teachers in 人 and courses in 门."""
    time_machine.move_to(worlds.STATISTICS_NOW, tick=True)
    run = _run(session_factory, college, "execution_report")
    lines = _text_lines(run.content or b"")
    with session_factory() as s:
        stats = StatisticsService(s, college.institution_id).stored(college.semester.id)
    assert stats is not None and stats.problems.items
    for item in stats.problems.items:
        assert any(item.raised_on in line for line in lines), item.raised_on
    names = {p.name for g in stats.groups for p in g.people} | {
        r.name for m in stats.ideological for r in m.rows
    }
    for name in names:
        assert any(name in line for line in lines), name
    units = missing_units(stats)
    for rule in stats.rule_summary:
        assert units[rule.rule_id] == {"each_course": "门", "tenure_coverage": "人", "per_month": "个月"}.get(
            rule.kind, "项"
        )
