"""Faults answer honestly and jobs are never stuck (issue 13 §4, §6).

A report requested while Redis is down answers a 503 page saying so, its run is kept, and the worker's
reconciler queues it at its next maintenance round once Redis answers. A database that cannot be
reached answers 503 with a page that says so, not a generic 500.
"""

from __future__ import annotations

import html
import re

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select

from lti_tool.db import make_engine, make_session_factory
from lti_tool.reports import fairqueue
from lti_tool.reports.models import ReportRun, RunStatus, StatisticsSnapshot
from lti_tool.reports.services import RunProgress, enqueue_job, job_id_of
from lti_tool.reports.statistics import StatisticsService
from tests.functional.reports.test_pages import QC_USER, _college
from tests.support.redis import redis_for
from worker import jobs
from worker.jobs import requeue_orphans
from worker.queues import TingkeWorker

EN = {"Accept-Language": "en"}
NOWHERE = "redis://127.0.0.1:1/15"  # nothing listens on port 1: connection refused at once


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def test_report_requested_while_redis_is_down_is_queued_once_it_is_back(
    app, session_factory, settings, institution_id, launcher, client, worker_db
):  # type: ignore[no-untyped-def]
    # The reconciler's own Redis database, emptied before and after: run ids restart with every test, so
    # jobs or waiting lists other tests left in the shared one could stand for this test's run.
    conn = redis_for(settings)
    conn = Redis(
        connection_pool=conn.connection_pool.__class__(**{**conn.connection_pool.connection_kwargs, "db": 12})
    )
    conn.flushdb()
    built = _college(session_factory, institution_id)
    launched = launcher.launch(QC_USER)
    page = launched.get(client, "/reports/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    t = app.extensions["tingke"]
    saved, t.redis = t.redis, Redis.from_url(NOWHERE)
    try:
        response = client.post(
            f"/reports/start?s={launched.token}",
            data={"kind": "statistics", "semester_id": str(built.semester.id), "csrf": csrf},
            headers=EN,
        )
    finally:
        t.redis.close()
        t.redis = saved
    assert response.status_code == 503, _text(response)[:1500]
    assert "任务队列暂时无法连接" in _text(response)  # the session's language: the launch's (zh)
    assert "暂时无法使用" in _text(response)  # titled for what it is, not "something went wrong"
    with session_factory() as s:
        run = s.scalars(select(ReportRun).where(ReportRun.institution_id == institution_id)).one()
        assert run.status == RunStatus.PENDING and not run.job_id  # kept, without a job
        assert "任务队列暂时无法连接" in run.message  # its page says why it waits
        run_id = run.id
    # Redis is back: the worker's next maintenance round queues the run (no one asks again)
    queue = Queue("reports", connection=conn)
    worker = TingkeWorker([queue], connection=conn)
    job_id = job_id_of(run_id)
    try:
        worker.run_maintenance_tasks()
        with session_factory() as s:
            run = s.get(ReportRun, run_id)
            assert run is not None and run.job_id == job_id
        assert Job.exists(job_id, connection=conn) or fairqueue.is_waiting(conn, institution_id, run_id)
        worker.run_maintenance_tasks()  # a second round queues nothing more (one job per run)
        assert queue.job_ids.count(job_id) <= 1
    finally:
        conn.flushdb()
        conn.close()


def test_database_unreachable_answers_503_saying_so(app, launcher, client, tmp_path):  # type: ignore[no-untyped-def]
    launched = launcher.launch(QC_USER)
    t = app.extensions["tingke"]
    dead = make_session_factory(make_engine(f"sqlite:///{tmp_path}/missing-dir/none.db"))
    saved, t.session_factory = t.session_factory, dead
    try:
        home = launched.get(client, "/home", headers=EN)
        login = client.post(
            "/lti/login", data={"iss": "x", "login_hint": "y", "target_link_uri": "z"}, headers=EN
        )
    finally:
        t.session_factory = saved
        dead.kw["bind"].dispose()
    for response in (home, login):
        assert response.status_code == 503, _text(response)[:1500]
        assert "database cannot be reached" in _text(response)


def _own_redis(settings) -> Redis:  # type: ignore[no-untyped-def]
    """The tests' Redis on a database of these tests' own, emptied (run ids restart with every test)."""
    conn = redis_for(settings)
    conn = Redis(
        connection_pool=conn.connection_pool.__class__(**{**conn.connection_pool.connection_kwargs, "db": 12})
    )
    conn.flushdb()
    return conn


def _statistics_run(session_factory, institution_id: int, semester_id: int, **values) -> int:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        run = ReportRun(institution_id=institution_id, kind="statistics", semester_id=semester_id, **values)
        s.add(run)
        s.flush()
        return run.id


def test_a_run_built_twice_makes_one_output(session_factory, institution_id, worker_db):  # type: ignore[no-untyped-def]
    built = _college(session_factory, institution_id)
    run_id = _statistics_run(session_factory, institution_id, built.semester.id, frozen=True)
    assert jobs.run_report(run_id) == f"statistics {run_id} done"
    # the job again (queued twice, or retried after its worker died once the output was stored)
    assert "already succeeded" in jobs.run_report(run_id)
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None and run.status == RunStatus.SUCCEEDED and run.attempts == 1
        frozen = s.scalars(select(StatisticsSnapshot).where(StatisticsSnapshot.frozen.is_(True))).all()
        assert len(frozen) == 1  # a frozen snapshot is never replaced: a second one would be a double


def test_of_two_executions_at_once_only_the_first_finisher_stores(session_factory, institution_id, worker_db):  # type: ignore[no-untyped-def]
    built = _college(session_factory, institution_id)
    run_id = _statistics_run(session_factory, institution_id, built.semester.id, frozen=True)
    with session_factory() as slow:  # an execution thought dead, still computing
        progress = RunProgress(slow, run_id)
        assert progress.start().status == RunStatus.RUNNING
        slow.rollback()  # (SQLite: its read transaction would hold the one writer's lock)
        jobs.run_report(run_id)  # the retry, finishing first
        StatisticsService(slow, institution_id).store(
            StatisticsService(slow, institution_id).compute(built.semester), None, frozen=True
        )
        assert progress.succeed("late.pdf", b"late") is False  # its writes are rolled back
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None and run.status == RunStatus.SUCCEEDED and run.filename != "late.pdf"
        frozen = s.scalars(select(StatisticsSnapshot).where(StatisticsSnapshot.frozen.is_(True))).all()
        assert len(frozen) == 1


def test_reconciler_takes_back_a_running_run_rq_gave_up(session_factory, settings, institution_id, worker_db):  # type: ignore[no-untyped-def]
    built = _college(session_factory, institution_id)
    conn = _own_redis(settings)
    sem = built.semester.id
    # the worker died and RQ's cleanup failed the job (no retries left) or Redis lost it: still "running"
    dead = _statistics_run(session_factory, institution_id, sem, status="running", attempts=1, job_id="x")
    spent = _statistics_run(session_factory, institution_id, sem, status="running", attempts=3, job_id="x")
    cli = _statistics_run(session_factory, institution_id, sem, status="running", attempts=1)  # tingke report
    live = _statistics_run(session_factory, institution_id, sem, status="running", attempts=1, job_id="x")
    queue = Queue("reports", connection=conn)
    try:
        enqueue_job(live, conn)
        conn.lpop("rq:queue:reports")  # taken by a worker that is still alive and working on it
        Job.fetch(job_id_of(live), connection=conn).set_status("started")
        assert requeue_orphans(conn) == 1
        with session_factory() as s:
            states = {
                i: (s.get(ReportRun, i).status, s.get(ReportRun, i).error) for i in (dead, spent, cli, live)
            }  # type: ignore[union-attr]
        assert states[dead][0] == RunStatus.PENDING
        assert states[spent] == (RunStatus.FAILED, "the worker stopped while making it, on every attempt")
        assert states[cli][0] == states[live][0] == RunStatus.RUNNING  # not the reconciler's
        assert Job.exists(job_id_of(dead), connection=conn) or fairqueue.is_waiting(
            conn, institution_id, dead
        )
        assert requeue_orphans(conn) == 0  # queued once: a second round finds its job live
        assert enqueue_job(dead, conn) == job_id_of(dead)  # and queueing it again adds nothing
        assert queue.job_ids.count(job_id_of(dead)) <= 1
    finally:
        conn.flushdb()
        conn.close()


def test_reconciler_takes_back_import_runs_too(session_factory, settings, institution_id, worker_db):  # type: ignore[no-untyped-def]
    from lti_tool.import_runs import services as imports
    from lti_tool.import_runs.models import ImportRun

    conn = _own_redis(settings)
    with session_factory.begin() as s:
        runs = [
            ImportRun(institution_id=institution_id, kind="people", status=status, attempts=n, job_id=job)
            for status, n, job in (("pending", 0, ""), ("running", 1, "x"), ("running", 3, "x"))
        ]
        s.add_all(runs)
        s.flush()
        lost, dead, spent = (r.id for r in runs)
    try:
        assert requeue_orphans(conn) == 2
        with session_factory() as s:
            assert s.get(ImportRun, lost).status == s.get(ImportRun, dead).status == "pending"  # type: ignore[union-attr]
            assert s.get(ImportRun, spent).status == "failed"  # type: ignore[union-attr]
        for run_id in (lost, dead):
            assert Job.exists(imports.job_id_of(run_id), connection=conn)
        assert requeue_orphans(conn) == 0  # their jobs are live now
    finally:
        conn.flushdb()
        conn.close()


def test_reconciler_queues_a_confirmed_preview_under_its_apply_job(
    session_factory, settings, institution_id, worker_db
):  # type: ignore[no-untyped-def]
    """A timetable run confirmed while Redis was down: its apply stage gets its own job (the preview's
    finished job keeps the run's first id), and a finished preview waiting for its confirmation is left be."""
    from lti_tool.import_runs import services as imports
    from lti_tool.import_runs.models import ImportRun

    conn = _own_redis(settings)
    with session_factory.begin() as s:
        confirmed = ImportRun(
            institution_id=institution_id, kind="timetable", status="pending", stage="apply"
        )
        waiting = ImportRun(
            institution_id=institution_id, kind="timetable", status="succeeded", stage="preview"
        )
        s.add_all([confirmed, waiting])
        s.flush()
        confirmed_id, waiting_id = confirmed.id, waiting.id
    try:
        assert requeue_orphans(conn) == 1
        assert Job.exists(imports.job_id_of(confirmed_id, "apply"), connection=conn)
        assert imports.job_id_of(confirmed_id, "apply") == f"import-run-{confirmed_id}-apply"
        assert not Job.exists(imports.job_id_of(waiting_id), connection=conn)
        assert requeue_orphans(conn) == 0
    finally:
        conn.flushdb()
        conn.close()
