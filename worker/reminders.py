"""The reminder tick: finds due checkpoints of every institution, claims them, delivers their notifications
(notifications/delivery.py, the same path as every other event), tells units of newly overdue problems
(and the leader or unit owing the step of an overdue letter or proposal),
reschedules itself.

The tick re-enqueues itself with a fixed job id through RQ's scheduler (``enqueue_in``), so two workers
keep one chain; even if two ticks ran at once, the checkpoint's unique claim row lets only one send.
"""

from __future__ import annotations

import datetime as dt
import logging

from rq import Queue
from sqlalchemy import select

from lti_tool import clock
from lti_tool.notifications.delivery import deliver
from lti_tool.outreach.followup import FollowUpService
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.services import ProblemService
from lti_tool.reminders.services import ReminderService
from lti_tool.tenancy import Institution
from worker.jobs import session_factory, settings

TICK_JOB_ID = "tingke-reminder-tick"
TICK_INTERVAL = dt.timedelta(minutes=15)
log = logging.getLogger(__name__)


def send_due_reminders(now: dt.datetime | None = None) -> int:
    """Process every due checkpoint; returns how many reminders this call stored and sent."""
    now = now or clock.utcnow()
    sent = 0
    factory = session_factory()
    with factory() as session:
        institutions = list(session.scalars(select(Institution.id)))
    for institution_id in institutions:
        with factory() as session:
            for checkpoint in ReminderService(session, institution_id).due(now):
                service = ReminderService(session, institution_id)
                reminders = service.run_checkpoint(checkpoint, now=now)
                outbox = [n.id for n in service.notifications]
                session.commit()  # the claim, banners and outbox rows are stored before anything leaves
                for notification_id in outbox:  # a failure is kept on its row and retried by the reconciler
                    deliver(session, notification_id, settings())
                sent += len(reminders)
            # overdue problems: their units are told once per problem (queued after this commit)
            ProblemService(
                session, institution_id, PolicyStore(session, institution_id).current()
            ).announce_overdue(now)
            # overdue letters and proposals: whoever owes the step, once per deadline (a claimed row)
            FollowUpService(
                session, institution_id, PolicyStore(session, institution_id).current()
            ).announce_overdue(clock.local(now, session.get(Institution, institution_id)).date())
            session.commit()
    return sent


def tick() -> int:
    """One round; the next is scheduled whatever happens, so a failing round (the database away) never
    ends the chain and leaves checkpoints to fire only at the next worker restart, days later."""
    try:
        return send_due_reminders()
    finally:
        schedule_tick()


def schedule_tick(connection: object | None = None) -> None:
    from worker.queues import redis_connection

    queue = Queue("default", connection=connection or redis_connection(settings()))  # type: ignore[arg-type]
    queue.enqueue_in(TICK_INTERVAL, tick, job_id=TICK_JOB_ID, result_ttl=600, failure_ttl=24 * 3600)
