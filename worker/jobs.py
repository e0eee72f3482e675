"""RQ jobs: thin and idempotent. Each takes a run id, opens a session and calls a service by name.

The builders and a run's life around them are ``lti_tool/reports/runner.py``; the web, the CLI and the
archive close start a run with ``ReportRunService.start``, which enqueues ``worker.jobs.run_report`` by
its dotted name. A failure is retried by RQ (``Retry(max=2)``) and the run shows "retrying"; after the
last attempt the run is failed with the error kept for the page.
"""

from __future__ import annotations

import json
import os

from rq import get_current_job
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import clock, tabular
from lti_tool.config import Settings
from lti_tool.db import make_engine, make_session_factory
from lti_tool.notifications import outbox
from lti_tool.notifications.delivery import deliver
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


def run_import(run_id: int) -> str:
    """The RQ job of a large import (``import_runs.services.IMPORT_JOB``): the registered importer in its
    own session; how far the reader is goes to Redis for the run's page."""
    from lti_tool.import_runs import services as imports

    load_importers()
    job = get_current_job()

    def report(percent: int, rows: int) -> None:
        if job is not None:
            job.connection.set(
                imports.progress_key(run_id), json.dumps({"percent": percent, "rows": rows}), ex=3600
            )

    with session_factory()() as session:
        return imports.run(session, run_id, report=report, retries_left=_retries_left)


def load_importers() -> None:
    """Import the modules that register importers (``import_runs.services.register_importer``)."""
    import lti_tool.contacts.transfer  # noqa: F401
    import lti_tool.directory.services  # noqa: F401
    import lti_tool.outreach.division  # noqa: F401
    import lti_tool.outreach.reception  # noqa: F401
    import lti_tool.timetable.importer  # noqa: F401
    import lti_tool.timetable.periods  # noqa: F401


def _retries_left() -> int:
    job = get_current_job()
    return job.retries_left if job is not None and job.retries_left else 0


def deliver_notification(notification_id: int) -> str:
    """The RQ job (enqueued by name, ``notifications.outbox.DELIVER_JOB``): one attempt at one outbox row;
    a failure queues its retry after the back-off (``notifications/delivery.py``)."""
    job = get_current_job()
    with session_factory()() as session:
        return deliver(session, notification_id, settings(), connection=job.connection if job else None)


def requeue_orphans(connection: object) -> int:
    """The reconciler (issue 13 §4): every unfinished run ends up with a job that will run it.

    - a pending run without a live job (recorded while Redis was down, made offline by ``tingke demo``,
      lost with Redis) is queued;
    - a running run whose job is no longer live — its worker died and RQ's registry cleanup gave up on it
      (no retries left), or the job vanished with Redis — is queued again while it has attempts left,
      failed with a message otherwise. A job that is still "started" under a dead worker is RQ's to find:
      its execution's heartbeat lapses (``TingkeWorker.get_heartbeat_ttl``) and the next registry cleanup
      retries it.
    Runs still on their institution's fair waiting list, and runs being built in-process by ``tingke
    report`` (running without ever having had a job), are not touched. Queueing twice is harmless:
    ``enqueue_job`` skips a live job and ``build`` a finished run. Returns how many runs were queued."""
    from sqlalchemy import select, update

    from lti_tool.reports.models import RunStatus
    from lti_tool.reports.services import MAX_ATTEMPTS, job_id_of

    queued = 0
    with session_factory()() as session:
        unfinished = session.execute(
            select(
                ReportRun.id, ReportRun.institution_id, ReportRun.status, ReportRun.attempts, ReportRun.job_id
            ).where(ReportRun.status.in_([RunStatus.PENDING, RunStatus.RUNNING]))
        ).all()
        for run_id, institution_id, status, attempts, had_job in unfinished:
            if status == RunStatus.RUNNING and not had_job:
                continue  # built in-process (``tingke report``), never by a worker's job
            if _job_is_live(job_id_of(run_id), connection) or fairqueue.is_waiting(
                connection, institution_id, run_id
            ):
                continue
            if status == RunStatus.RUNNING:
                # compare-and-set: a run its job finished meanwhile is left as it is
                retry = (attempts or 0) < MAX_ATTEMPTS
                values = (
                    {"status": RunStatus.PENDING, "message": "工作进程中断，重新排队 (the worker stopped)"}
                    if retry
                    else {
                        "status": RunStatus.FAILED,
                        "error": "the worker stopped while making it, on every attempt",
                        "finished_at": clock.utcnow(),
                    }
                )
                changed = session.execute(
                    update(ReportRun)
                    .where(
                        ReportRun.id == run_id,
                        ReportRun.status == RunStatus.RUNNING,
                        ReportRun.attempts == attempts,
                    )
                    .values(**values)
                ).rowcount  # type: ignore[attr-defined]
                session.commit()
                if not changed or not retry:
                    continue
            job_id = enqueue_run(run_id, connection, institution_id=institution_id)
            session.execute(update(ReportRun).where(ReportRun.id == run_id).values(job_id=job_id))
            session.commit()
            queued += 1
        queued += _requeue_import_orphans(session, connection)
    return queued


def _job_is_live(job_id: str, connection: object) -> bool:
    """Whether RQ will still run the job, or runs it (queued, started, scheduled, deferred)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from lti_tool.reports.services import LIVE_JOB_STATUSES

    try:
        return Job.fetch(job_id, connection=connection).get_status() in LIVE_JOB_STATUSES  # type: ignore[arg-type]
    except NoSuchJobError:
        return False


def _requeue_import_orphans(session: Session, connection: object) -> int:
    """Unfinished import runs without a live job, as for report runs: a pending one (Redis was down when
    the file was uploaded, or the job was lost) is queued; a running one whose worker died and RQ gave up
    is queued again while it has attempts left and failed otherwise (its import is one transaction, so
    nothing of a dead attempt was kept)."""
    from lti_tool.import_runs import services as imports

    queued = 0
    for run in imports.orphans(session):
        if not run.job_id and run.status == imports.RUNNING:
            continue  # not started by a job
        if _job_is_live(imports.job_id_of(run.id, run.stage), connection):
            continue
        if run.status == imports.RUNNING:
            if (run.attempts or 0) >= imports.MAX_ATTEMPTS:
                run.status, run.finished_at = imports.FAILED, clock.utcnow()
                run.error = imports.OUR_ERROR
                continue
            run.status = imports.PENDING
        run.job_id = imports.enqueue(run.id, connection, run.stage)
        queued += 1
    session.commit()
    return queued


def requeue_notifications(connection: object) -> int:
    """Queue due notification rows that have no live job (``notifications/outbox.py``)."""
    with session_factory()() as session:
        return outbox.requeue_due(session, connection)


RECONCILERS = (requeue_orphans, requeue_notifications)
"""What the worker's maintenance round runs (worker/queues.py): rows recorded whose job is gone."""
