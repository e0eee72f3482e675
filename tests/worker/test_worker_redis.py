"""Jobs on a real Redis: a burst ``rq worker`` renders the PDF; a failing builder retries, then fails."""

from __future__ import annotations

import io

import pypdf
import pytest
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from lti_tool.reports import runner
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.services import MAX_ATTEMPTS, enqueue_run
from tests.functional.reports.test_report import pdf_text
from tests.support import worlds
from tests.support.redis import finish, redis_for, start_burst_worker


@pytest.fixture
def college(session_factory, worker_db):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return worlds.statistics_world(s)


def _new_run(session_factory, built, kind: str) -> int:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        run = ReportRun(institution_id=built.institution_id, kind=kind, semester_id=built.semester.id)
        s.add(run)
        s.flush()
        return run.id


def test_burst_rq_worker_renders_the_execution_report(session_factory, settings, college, tmp_path):  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    run_id = _new_run(session_factory, college, "execution_report")
    job_id = enqueue_run(run_id, conn)
    output = finish(start_burst_worker(settings, tmp_path))
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None
        assert run.status == RunStatus.SUCCEEDED, (run.error, output)
        assert run.attempts == 1 and run.progress == 100
        content = run.content or b""
    assert job_id == f"report-run-{run_id}"
    reader = pypdf.PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 5
    text = pdf_text(content)
    assert "领导干部听课制度执行情况报告" in text and "共提交听课记录6份，听课7人次" in text


def test_failing_builder_retries_then_fails_with_a_clear_error(
    session_factory, settings, college, monkeypatch
):  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    calls: list[int] = []

    def broken(session, run, progress):  # type: ignore[no-untyped-def]
        calls.append(run.attempts)
        progress(30, "统计合规情况")
        raise RuntimeError("统计数据源不可用")

    runner.load_builders()
    monkeypatch.setitem(runner._BUILDERS, "statistics", broken)
    run_id = _new_run(session_factory, college, "statistics")
    job_id = enqueue_run(run_id, conn)
    SimpleWorker([Queue("reports", connection=conn)], connection=conn).work(burst=True)
    assert calls == [1, 2, 3]  # the first attempt and MAX_ATTEMPTS - 1 retries
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None
        assert run.status == RunStatus.FAILED and run.attempts == MAX_ATTEMPTS
        assert run.error.splitlines()[0] == "RuntimeError: 统计数据源不可用"
        assert run.finished_at is not None and run.content is None
    assert job_id in FailedJobRegistry("reports", connection=conn).get_job_ids()
