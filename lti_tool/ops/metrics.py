"""``/metrics``: Prometheus text format.

Per-process request and launch metrics come from ``lti_tool/ops/observability.py`` (summed over gunicorn's
processes in multiprocess mode). The job figures are read at scrape time from where they are true for
every host at once: queue depths and started/failed job counts from RQ's registries in Redis, report runs
by kind and status and their durations from the database (``report_run``), so a scrape of any app host
shows the whole install's workers.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.config import Settings
from lti_tool.reports.models import ReportRun, RunStatus

DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class QueueCollector(Collector):
    """RQ's queues as they are in Redis: queued (the depth), started, failed, scheduled, deferred."""

    def __init__(self, connection: object) -> None:
        self.connection = connection

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The figures, or ``tingke_queue_up 0`` alone when Redis cannot be reached: a scrape during an
        outage says so instead of failing (issue 13 §6)."""
        import redis.exceptions

        up = GaugeMetricFamily("tingke_queue_up", "1 when Redis (the job queue) answered this scrape")
        try:
            figures = list(self._figures())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def _figures(self) -> Iterator[GaugeMetricFamily]:
        from rq import Queue, Worker

        jobs = GaugeMetricFamily(
            "tingke_queue_jobs",
            "RQ jobs per queue and state (state=queued is the depth)",
            labels=["queue", "state"],
        )
        for q in Queue.all(connection=self.connection):  # type: ignore[arg-type]
            jobs.add_metric([q.name, "queued"], q.count)
            jobs.add_metric([q.name, "started"], q.started_job_registry.count)
            jobs.add_metric([q.name, "failed"], q.failed_job_registry.count)
            jobs.add_metric([q.name, "scheduled"], q.scheduled_job_registry.count)
            jobs.add_metric([q.name, "deferred"], q.deferred_job_registry.count)
        yield jobs
        from lti_tool.reports import fairqueue

        waiting = GaugeMetricFamily(
            "tingke_report_runs_waiting",
            "Runs waiting for admission on their institution's fair list (not yet in RQ's queue)",
            labels=["institution"],
        )
        for institution, count in sorted(fairqueue.waiting(self.connection).items()):
            waiting.add_metric([str(institution)], count)
        yield waiting
        workers = GaugeMetricFamily("tingke_workers", "RQ worker processes registered in Redis (all hosts)")
        workers.add_metric([], Worker.count(connection=self.connection))  # type: ignore[arg-type]
        yield workers


class RunCollector(Collector):
    """Report runs (the jobs' state rows): how many per kind and status, and how long the finished took."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        with self.factory() as session:
            counts = session.execute(
                select(ReportRun.kind, ReportRun.status, func.count()).group_by(
                    ReportRun.kind, ReportRun.status
                )
            ).all()
            finished = session.execute(
                select(ReportRun.kind, ReportRun.started_at, ReportRun.finished_at).where(
                    ReportRun.status == RunStatus.SUCCEEDED,
                    ReportRun.started_at.is_not(None),
                    ReportRun.finished_at.is_not(None),
                )
            ).all()
        runs = GaugeMetricFamily(
            "tingke_report_runs",
            "Report runs by kind and status (pending, running, succeeded, failed)",
            labels=["kind", "status"],
        )
        for kind, status, n in counts:
            runs.add_metric([kind, status], n)
        yield runs
        durations: dict[str, list[float]] = {}
        for kind, started, ended in finished:
            if started is None or ended is None:  # excluded by the query; for the type checker
                continue
            durations.setdefault(kind, []).append(max(0.0, (ended - started).total_seconds()))
        hist = HistogramMetricFamily(
            "tingke_report_run_duration_seconds",
            "Wall time of succeeded report runs, by kind",
            labels=["kind"],
        )
        for kind, values in sorted(durations.items()):
            buckets = [(str(b), sum(1 for v in values if v <= b)) for b in DURATION_BUCKETS]
            buckets.append(("+Inf", len(values)))
            hist.add_metric([kind], buckets, sum(values))
        yield hist


def render(settings: Settings, factory: sessionmaker[Session], redis: object) -> bytes:
    """The Prometheus text exposition: this host's processes, then the install-wide job figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # every gunicorn process's samples, summed
    else:
        processes = REGISTRY
    shared = CollectorRegistry()
    shared.register(QueueCollector(redis))
    shared.register(RunCollector(factory))
    return generate_latest(processes) + generate_latest(shared)


def authorised(settings: Settings, authorization: str) -> bool:
    """``TINGKE_METRICS_TOKEN`` unset: open (nginx keeps /metrics off the internet, deploy/nginx)."""
    if not settings.metrics_token:
        return True
    given = authorization.removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), settings.metrics_token.encode())
