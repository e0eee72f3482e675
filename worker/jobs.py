"""RQ jobs: thin and idempotent. Each takes a run id, opens a session, calls a builder, records the outcome.

Builders are registered per report kind (``register_builder``); they receive the session, the run and a
progress callback, and return (filename, bytes) or (``""``, ``None``) when their output is a database
snapshot. A failure is retried by RQ (``Retry(max=2)``) and the run shows "retrying"; after the last
attempt the run is failed with the error kept for the page.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from rq import Retry, get_current_job
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.config import Settings
from lti_tool.db import make_engine, make_session_factory
from lti_tool.reports.models import ReportRun
from lti_tool.reports.services import JOB_TIMEOUT_SECONDS, MAX_ATTEMPTS, RunProgress

Builder = Callable[[Session, ReportRun, RunProgress], tuple[str, bytes | None]]
_BUILDERS: dict[str, Builder] = {}
_FACTORY: sessionmaker[Session] | None = None
_SETTINGS: Settings | None = None


def register_builder(kind: str) -> Callable[[Builder], Builder]:
    def decorator(fn: Builder) -> Builder:
        _BUILDERS[kind] = fn
        return fn

    return decorator


def configure(config: Settings) -> None:
    """Point the jobs at a database (the worker reads the environment; tests call this)."""
    global _FACTORY, _SETTINGS
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


def load_builders() -> None:
    import importlib

    for module in ("worker.statistics", "worker.report", "worker.exports", "worker.bulletin"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def run_report(run_id: int) -> str:
    """The job: build one run's output. Safe to run twice (the output is replaced, never duplicated)."""
    load_builders()
    with session_factory()() as session:
        progress = RunProgress(session, run_id)
        run = progress.start()
        builder = _BUILDERS.get(run.kind)
        try:
            if builder is None:
                raise RuntimeError(f"no builder for report kind {run.kind!r}")
            filename, content = builder(session, run, progress)
            session.commit()
        except Exception as exc:
            session.rollback()
            job = get_current_job()
            retries_left = job.retries_left if job is not None and job.retries_left else 0
            will_retry = retries_left > 0 and run.attempts < MAX_ATTEMPTS
            progress.fail(
                f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=5)}", will_retry=will_retry
            )
            raise
        progress.succeed(filename, content)
        return f"{run.kind} {run_id} done"


def enqueue_run(run_id: int, connection: object) -> str:
    """Queue a run (after its row is committed, so the worker always finds it)."""
    from rq import Queue

    job = Queue("reports", connection=connection).enqueue(  # type: ignore[arg-type]
        run_report,
        run_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        retry=Retry(max=MAX_ATTEMPTS - 1),
        job_id=f"report-run-{run_id}",
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return str(job.id)


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
            run.job_id = enqueue_run(run.id, connection)
            queued += 1
        session.commit()
    return queued
