"""Jobs by name, and whether a recorded job is still alive: what every state row with a job id shares.

Notification rows keep the id of the RQ job that will deliver them. The worker's reconciler
(worker/queues.py) queues again every due row whose job is gone: never queued (Redis was down when the row
committed), expired or ended without settling the row. Web code
never imports ``worker/``: jobs are enqueued by their dotted name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

ENDED = ("finished", "failed", "stopped", "canceled")


def job_alive(job_id: str, connection: Any) -> bool:
    """The job exists in Redis and has not ended (queued, scheduled, deferred or started)."""
    if not job_id:
        return False
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    return status is None or str(getattr(status, "value", status)) not in ENDED


def enqueue(
    name: str,
    *args: Any,
    connection: Any,
    job_id: str,
    queue: str = "default",
    at: dt.datetime | None = None,
    timeout: int = 120,
) -> str:
    """Queue the job ``name`` (a dotted path) now, or at ``at`` through RQ's scheduler."""
    from rq import Queue

    q = Queue(queue, connection=connection)
    options: dict[str, Any] = {
        "job_id": job_id,
        "job_timeout": timeout,
        "result_ttl": 600,
        "failure_ttl": 7 * 24 * 3600,
    }
    job = q.enqueue_at(at, name, *args, **options) if at is not None else q.enqueue(name, *args, **options)
    return str(job.id)
