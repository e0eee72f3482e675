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
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.services import job_id_of
from tests.worker.redis_support import redis_for
from tests.worker.test_report_page import QC_USER, _college
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
    with session_factory() as s:
        run = s.scalars(select(ReportRun).where(ReportRun.institution_id == institution_id)).one()
        assert run.status == RunStatus.PENDING and not run.job_id  # kept, without a job
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
