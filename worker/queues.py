"""Queues and the worker process.

WeasyPrint is imported in the parent process so each forked job inherits it warm
(docs/stack-notes.md §4).
"""

from __future__ import annotations

import contextlib
import logging
import time

import redis.exceptions
from redis import Redis
from rq import Queue, Worker
from rq.job import Job

from lti_tool.config import Settings
from lti_tool.ops.observability import configure_logging

QUEUE_NAMES = ("reports", "default")
log = logging.getLogger(__name__)


def redis_connection(settings: Settings | None = None) -> Redis:
    settings = settings or Settings.from_env()
    return Redis.from_url(settings.redis_url)


def queue(name: str = "default", connection: Redis | None = None) -> Queue:
    return Queue(name, connection=connection or redis_connection())


class TingkeWorker(Worker):
    """RQ's worker plus Tingke's reconcilers (``worker.jobs.RECONCILERS``): every maintenance round
    (``worker_maintenance_seconds``, 30 s by default, also while idle) it queues the unfinished report runs
    that have no live job — recorded while Redis was down, lost with it, or given up by RQ after their worker
    died — and the due notifications without one, and admits waiting runs (issue 13 §4,
    ``worker.jobs.requeue_orphans``, ``notifications/outbox.py``). A failing round is logged and tried again
    next time; it never stops the worker."""

    max_connection_wait_time = 8.0
    """While Redis is away the worker retries with a backoff capped here (RQ's cap is 60 s), so runs recorded
    during the outage are queued within seconds of Redis being back, not a minute later."""

    ABANDONED_AFTER = 30
    """Seconds without a heartbeat after which RQ's registry cleanup takes a started job as abandoned
    (its worker died) and retries it: RQ's own margin is 60 s on top of the monitoring interval."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # RQ renews a running job's execution every job_monitoring_interval seconds with this TTL; a job
        # whose worker was SIGKILLed stops being renewed and the surviving workers' next cleanup
        # (StartedJobRegistry.cleanup, every maintenance round) retries it (its Retry) — so a dead worker's
        # report is made again within interval + ABANDONED_AFTER + one maintenance round.
        return super().get_heartbeat_ttl(job, working_time) - 60 + self.ABANDONED_AFTER

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        from lti_tool.reports import fairqueue
        from worker.jobs import RECONCILERS

        for reconcile in RECONCILERS:
            try:
                queued = reconcile(self.connection)
            except Exception:  # the database or Redis is away: next round
                log.exception(
                    "reconciler %s failed; trying again at the next maintenance", reconcile.__name__
                )
                continue
            if queued:
                log.info("reconciler %s queued %d row(s) that had no job", reconcile.__name__, queued)
        try:
            fairqueue.admit(self.connection)
        except Exception:
            log.exception("admitting waiting report runs failed; trying again at the next maintenance")


def wait_for_redis(connection: Redis, most: float = TingkeWorker.max_connection_wait_time) -> None:
    """A worker started while Redis is away waits for it (saying so), as a running worker does, instead of
    exiting with a traceback for systemd to restart."""
    pause = 1.0
    while True:
        try:
            connection.ping()
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("Redis cannot be reached (%s); trying again in %.0f s", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, most)


def run_worker(*, burst: bool = False, with_scheduler: bool = True) -> None:
    # Warm imports for the forked work-horses (about 1 s per job otherwise); if WeasyPrint cannot be
    # imported, reports will fail with a clear error instead.
    with contextlib.suppress(Exception):
        import weasyprint  # noqa: F401
    from lti_tool.reports.runner import load_builders

    load_builders()  # the builders' modules (WeasyPrint, charts) imported once, before the horses fork
    settings = Settings.from_env()
    configure_logging(settings)
    connection = redis_connection()
    wait_for_redis(connection)
    from lti_tool.notifications import outbox
    from worker.jobs import RECONCILERS
    from worker.reminders import schedule_tick

    outbox.configure(lambda: connection)  # notifications written by jobs are queued after their commit
    schedule_tick(connection)  # keeps one reminder chain alive (fixed job id)
    for reconcile in RECONCILERS:
        reconcile(connection)
    from lti_tool.reports import fairqueue

    fairqueue.admit(connection)  # runs left waiting when every worker stopped
    recovery = settings.worker_maintenance_seconds
    worker = TingkeWorker(
        [Queue(n, connection=connection) for n in QUEUE_NAMES],
        connection=connection,
        # A job whose worker host died stays "started" until RQ's registry cleanup finds it (its heartbeat
        # lapses after job_monitoring_interval + ABANDONED_AFTER s) and retries it; the cleanup runs every
        # ``recovery`` seconds, also while idle (a blocking dequeue waits at most worker_ttl - 15 s).
        maintenance_interval=recovery,
        worker_ttl=max(20, recovery + 15),
        job_monitoring_interval=10,
    )
    worker.work(burst=burst, with_scheduler=with_scheduler)
