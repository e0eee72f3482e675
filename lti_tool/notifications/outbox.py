"""Queueing the outbox rows: after the transaction that wrote them commits, and again by the reconciler.

``notify`` calls ``queue_after_commit``: the rows' ids wait in the session until its commit, then each
gets its RQ job (``worker.jobs.deliver_notification``, by name) — now, or at its ``not_before`` through
RQ's scheduler. A rollback drops them with the rows. If Redis cannot be reached the rows stay pending
without a job and ``requeue_due`` (run by the worker's maintenance, like the report runs' reconciler)
queues them within a minute of Redis answering.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from lti_tool import jobqueue
from lti_tool.db import utcnow

if TYPE_CHECKING:
    from lti_tool.notifications.models import Notification

log = logging.getLogger(__name__)

DELIVER_JOB = "worker.jobs.deliver_notification"
_PENDING_KEY = "tingke.notifications"

_connection_factory: Callable[[], Any] | None = None


def configure(connection_factory: Callable[[], Any] | None) -> None:
    """Where queued rows go: the app and the worker hand in their Redis connection (None: nowhere, the
    reconciler queues them later)."""
    global _connection_factory
    _connection_factory = connection_factory


def job_id_for(notification_id: int) -> str:
    return f"notification-{notification_id}-{uuid.uuid4().hex[:8]}"


def queue_after_commit(session: Session, rows: list[Notification]) -> None:
    if not rows:
        return
    pending: list[tuple[int, dt.datetime | None]] = session.info.setdefault(_PENDING_KEY, [])
    if not pending:
        event.listen(session, "after_commit", _after_commit, once=True)
        event.listen(session, "after_rollback", _after_rollback, once=True)
    pending.extend((row.id, row.not_before) for row in rows)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, [])
    if not pending or _connection_factory is None:
        return
    try:
        connection = _connection_factory()
        jobs = {nid: enqueue_delivery(nid, connection, at) for nid, at in pending}
    except Exception as exc:  # Redis away: the rows wait for the reconciler
        log.warning(
            "notifications: %d row(s) wait for the reconciler: %s", len(pending), exc.__class__.__name__
        )
        return
    # Record the job ids in a transaction of their own (the caller's is over).
    from lti_tool.notifications.models import Notification

    # One UPDATE per row, nothing read back (a row deleted meanwhile is simply not updated).
    bind = session.get_bind()
    with Session(bind) as own:
        for nid, job_id in jobs.items():
            own.execute(update(Notification).where(Notification.id == nid).values(job_id=job_id))
        own.commit()


def enqueue_delivery(notification_id: int, connection: Any, at: dt.datetime | None = None) -> str:
    when = at if at is not None and at > utcnow() else None
    return jobqueue.enqueue(
        DELIVER_JOB, notification_id, connection=connection, job_id=job_id_for(notification_id), at=when
    )


def requeue_due(session: Session, connection: Any, now: dt.datetime | None = None) -> int:
    """The reconciler: queue every pending row that is due and has no live job; returns how many."""
    from lti_tool.notifications.models import DeliveryStatus, Notification

    now = now or utcnow()
    queued = 0
    rows = session.scalars(
        select(Notification).where(
            Notification.status == DeliveryStatus.PENDING,
            or_(Notification.not_before.is_(None), Notification.not_before <= now),
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        )
    )
    for row in rows:
        if jobqueue.job_alive(row.job_id, connection):
            continue
        row.job_id = enqueue_delivery(row.id, connection)
        queued += 1
    session.commit()
    return queued
