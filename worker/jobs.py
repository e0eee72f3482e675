"""RQ jobs: thin and idempotent. Each takes a run id, opens a session and calls a service by name.

The builders and a run's life around them are ``lti_tool/reports/runner.py``; the web, the CLI and the
archive close start a run with ``ReportRunService.start``, which enqueues ``worker.jobs.run_report`` by
its dotted name. A failure is retried by RQ (``Retry(max=2)``) and the run shows "retrying"; after the
last attempt the run is failed with the error kept for the page.
"""

from __future__ import annotations

import os

from rq import get_current_job
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import clock, tabular
from lti_tool.config import Settings
from lti_tool.db import make_engine, make_session_factory
from lti_tool.reports import fairqueue
from lti_tool.reports.models import ReportRun
from lti_tool.reports.runner import build
from lti_tool.reports.services import enqueue_run

_FACTORY: sessionmaker[Session] | None = None
_SETTINGS: Settings | None = None


def configure(config: Settings) -> None:
    """Point the jobs at a database (the worker reads the environment; tests call this)."""
    global _FACTORY, _SETTINGS
    clock.set_default_zone(config.timezone)
    tabular.configure(tabular.Limits.from_settings(config))
    if _SETTINGS is not None and _SETTINGS.database_url == config.database_url and _FACTORY is not None:
        _SETTINGS = config
        return
    dispose()
    _SETTINGS = config
    _FACTORY = make_session_factory(make_engine(config.database_url))


def dispose() -> None:
    """Close the jobs' database connections (the end of a test run, a worker shutting down)."""
    global _FACTORY
    if _FACTORY is not None:
        _FACTORY.kw["bind"].dispose()
        _FACTORY = None


def _forget_parent_connections() -> None:
    """In a forked work-horse: drop the pooled connections inherited from the worker process.

    The worker itself queries the database (``requeue_orphans``) before it forks a horse per job; a horse
    that reused those sockets would share one PostgreSQL session with its parent and with every later
    horse, and psycopg's prepared statements then collide ("prepared statement _pg3_0 already exists"),
    failing every job after the first (found by tests/ops/test_scale_out.py). ``dispose(close=False)``
    is SQLAlchemy's documented way for a child process: new connections, the parent's left alone.
    """
    if _FACTORY is not None:
        _FACTORY.kw["bind"].dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def settings() -> Settings:
    if _SETTINGS is None:
        configure(Settings.from_env())
    assert _SETTINGS is not None
    return _SETTINGS


def session_factory() -> sessionmaker[Session]:
    if _FACTORY is None:
        configure(Settings.from_env())
    assert _FACTORY is not None
    return _FACTORY


def run_report(run_id: int) -> str:
    """The RQ job (enqueued by name, ``reports.services.RUN_JOB``): build one run in its own session,
    then admit the next waiting run, round-robin over institutions (``reports/fairqueue.py``)."""
    try:
        with session_factory()() as session:
            return build(session, run_id, retries_left=_retries_left)
    finally:
        job = get_current_job()
        if job is not None:
            fairqueue.admit(job.connection)


def _retries_left() -> int:
    job = get_current_job()
    return job.retries_left if job is not None and job.retries_left else 0


def requeue_orphans(connection: object) -> int:
    """Queue pending runs that have no RQ job (made offline, e.g. by ``tingke demo``, or lost with Redis)."""
    from rq.job import Job
    from sqlalchemy import select

    from lti_tool.reports.models import RunStatus

    queued = 0
    with session_factory()() as session:
        for run in session.scalars(select(ReportRun).where(ReportRun.status == RunStatus.PENDING)):
            if run.job_id and Job.exists(run.job_id, connection=connection):  # type: ignore[arg-type]
                continue
            if fairqueue.is_waiting(connection, run.institution_id, run.id):
                continue
            run.job_id = enqueue_run(run.id, connection, institution_id=run.institution_id)
            queued += 1
        session.commit()
    return queued
