"""Done means (issue 4): a quality-center user launched from Moodle starts the execution report, watches
its progress really move while a real RQ worker runs it, and downloads a PDF with the scenario's numbers."""

from __future__ import annotations

import re
import time

from rq import Queue, SimpleWorker

from lti_tool.directory.models import Person, Unit
from lti_tool.reports import runner
from tests.functional.reports.test_report import pdf_text
from tests.support import worlds
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser
from tests.support.redis import finish, redis_for, start_burst_worker

QC_USER = LmsUser("qc-1", "质控中心刘老师", "liu@jti.edu", "Q001", [ROLE_INSTRUCTOR])


def _college(session_factory, institution_id: int):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        built = worlds.statistics_world(s, institution_id)
        qc = Unit(
            institution_id=institution_id,
            code="ZK",
            name="教学质量监控与评价中心",
            kind="department",
            function="quality_center",
        )
        s.add(qc)
        s.flush()
        s.add(
            Person(
                institution_id=institution_id,
                employee_no="Q001",
                name="质控中心刘老师",
                email="liu@jti.edu",
                unit_id=qc.id,
            )
        )
        return built


def _start(client, launched, kind: str, semester_id: int) -> int:  # type: ignore[no-untyped-def]
    page = launched.get(client, "/reports/")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    response = client.post(
        f"/reports/start?s={launched.token}",
        data={"kind": kind, "semester_id": str(semester_id), "csrf": csrf},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/reports/runs/(\d+)", response.headers["Location"]).group(1))  # type: ignore[union-attr]


def test_quality_center_starts_watches_and_downloads_the_report(
    session_factory, settings, institution_id, launcher, client, tmp_path
):  # type: ignore[no-untyped-def]
    redis_for(settings)
    built = _college(session_factory, institution_id)
    launched = launcher.launch(QC_USER)
    run_id = _start(client, launched, "execution_report", built.semester.id)

    status = launched.get(client, f"/reports/runs/{run_id}/status").get_json()
    assert (status["status"], status["progress"]) == ("pending", 0)
    worker = start_burst_worker(settings, tmp_path)
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = launched.get(client, f"/reports/runs/{run_id}/status").get_json()
        if not seen or seen[-1] != (status["status"], status["progress"]):
            seen.append((status["status"], status["progress"]))
        if status["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    output = finish(worker)
    assert status["status"] == "succeeded", (status, output)
    running = [p for st, p in seen if st == "running"]
    assert len(set(p for p in running if 0 < p < 100)) >= 2, seen  # the bar really moved
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 100

    page = launched.get(client, f"/reports/runs/{run_id}")
    assert page.status_code == 200 and "100%" in page.get_data(as_text=True)
    download = launched.get(client, status["download"].split("?")[0])
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    text = pdf_text(download.data)
    assert "吉林交通职业技术学院" in text and "共提交听课记录6份，听课7人次" in text
    # made before or after the semester's last day (the suite's clock is the real date's 17:00 UTC)
    assert (
        "2人全部完成听课任务，3人未全部完成，履职完成率为40.0%" in text
        or "已有2人全部完成本学期听课任务，3人尚未全部完成，当前完成率为40.0%" in text
    )
    # the finished output's download says what it is, which semester, when it was made and its size
    html = page.get_data(as_text=True)
    link = re.search(r'<span class="output">(.*?)</span></span>', html, re.S)
    assert link is not None, html
    label = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", link.group(1)))
    assert "执行情况报告" in label and "2026-2027-1" in label and "生成于" in label, label
    assert re.search(r"\d+ KB", label), label
    assert "张副校长" in text and "钱老师（T102）" in text


def test_a_failing_job_shows_a_clear_error_on_the_page(
    session_factory, settings, worker_db, institution_id, launcher, client, monkeypatch
):  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    built = _college(session_factory, institution_id)

    def broken(session, run, progress):  # type: ignore[no-untyped-def]
        raise RuntimeError("统计数据源不可用")

    runner.load_builders()
    monkeypatch.setitem(runner._BUILDERS, "statistics", broken)
    launched = launcher.launch(QC_USER)
    run_id = _start(client, launched, "statistics", built.semester.id)
    SimpleWorker([Queue("reports", connection=conn)], connection=conn).work(burst=True)
    status = launched.get(client, f"/reports/runs/{run_id}/status").get_json()
    assert status["status"] == "failed" and status["error"] == "RuntimeError: 统计数据源不可用"
    assert status["download"] is None
    page = launched.get(client, f"/reports/runs/{run_id}").get_data(as_text=True)
    assert "RuntimeError: 统计数据源不可用" in page


def test_a_statistics_run_has_a_page_that_shows_what_it_computed(
    session_factory, settings, worker_db, institution_id, launcher, client
):  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    built = _college(session_factory, institution_id)
    launched = launcher.launch(QC_USER)
    run_id = _start(client, launched, "statistics", built.semester.id)
    SimpleWorker([Queue("reports", connection=conn)], connection=conn).work(burst=True)
    page = launched.get(client, f"/reports/runs/{run_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="statistics"' in html
    for needle in ("统计结果", "数据截至", "已提交记录", "O-1 ", "张副校长", "月度情况", "共反馈问题 3 个"):
        assert needle in html, needle
    listing = launched.get(client, "/reports/").get_data(as_text=True)
    assert "查看统计结果" in listing and f"/reports/runs/{run_id}" in listing
