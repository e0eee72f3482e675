"""Delivering one outbox row: what the worker's job calls (``worker.jobs.deliver_notification``).

The row's own institution's channel is used, never another's. A row is sent at most once: a row no longer
pending is left alone, a row whose ``not_before`` is still ahead waits. A failed attempt keeps the
service's message and is tried again after a back-off (1, 5, 30 minutes), then the row is failed and shows
on the quality center's notifications page.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import requests
from sqlalchemy.orm import Session

from lti_tool.config import Settings
from lti_tool.db import utcnow
from lti_tool.directory.models import Person
from lti_tool.notifications import outbox
from lti_tool.notifications.channels import DeliveryError, Message, sender_for
from lti_tool.notifications.models import DeliveryStatus, Notification
from lti_tool.notifications.services import Addresses, channel_setting

log = logging.getLogger(__name__)

BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30))
MAX_ATTEMPTS = len(BACKOFF) + 1


def deliver(
    session: Session,
    notification_id: int,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    connection: Any = None,
) -> str:
    """One attempt at one row; returns its status afterwards. With ``connection`` a failed attempt queues
    its retry at once (RQ's scheduler); without, the reconciler does when it is due."""
    now = now or utcnow()
    row = session.get(Notification, notification_id)
    if row is None or row.status != DeliveryStatus.PENDING:
        return row.status if row is not None else "missing"
    if (row.not_before is not None and row.not_before > now) or (
        row.next_attempt_at is not None and row.next_attempt_at > now
    ):
        return row.status  # not yet (O-12, or the back-off); its scheduled job or the reconciler comes back
    setting = channel_setting(session, row.institution_id, row.channel)  # its own institution's, only
    person = session.get(Person, row.person_id)
    address = (
        Addresses(session, row.institution_id).of(person, row.channel, setting)
        if person is not None and setting is not None
        else ""
    )
    if setting is None or not setting.enabled or not address:
        row.status = DeliveryStatus.UNDELIVERABLE
        row.error = "channel switched off" if setting is None or not setting.enabled else "no address"
        session.commit()
        return row.status
    row.attempts += 1
    try:
        sender_for(setting, session, settings).send(Message(address, row.subject, row.body, row.link))
    except (DeliveryError, requests.RequestException) as exc:
        row.error = str(exc)[:4000] or exc.__class__.__name__
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            row.next_attempt_at = now + BACKOFF[row.attempts - 1]
        log.warning(
            "notification %s (%s via %s) of institution %s, attempt %d failed: %s",
            row.id, row.event, row.channel, row.institution_id, row.attempts, row.error.splitlines()[0],
        )  # fmt: skip
        session.commit()
        if connection is not None and row.status == DeliveryStatus.PENDING:
            row.job_id = outbox.enqueue_delivery(row.id, connection, row.next_attempt_at)
            session.commit()
        return row.status
    row.status, row.sent_at, row.error, row.next_attempt_at = DeliveryStatus.SENT, utcnow(), "", None
    session.commit()
    return row.status


def deliver_due(
    session: Session, settings: Settings, *, now: dt.datetime | None = None, institution_id: int | None = None
) -> int:
    """Deliver every due pending row here and now (``tingke demo``, ``tingke notifications send``: where no
    worker runs); returns how many were sent."""
    from sqlalchemy import or_, select

    now = now or utcnow()
    stmt = select(Notification.id).where(
        Notification.status == DeliveryStatus.PENDING,
        or_(Notification.not_before.is_(None), Notification.not_before <= now),
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )
    if institution_id is not None:
        stmt = stmt.where(Notification.institution_id == institution_id)
    ids = list(session.scalars(stmt.order_by(Notification.id)))
    return sum(deliver(session, i, settings, now=now) == DeliveryStatus.SENT for i in ids)
