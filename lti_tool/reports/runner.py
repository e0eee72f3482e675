"""Building one report run: the registry of builders per report kind and the run's life around a build.

Builders are registered per report kind (``register_builder``); they receive the session, the run and a
progress callback, and return (filename, bytes) or (``""``, ``None``) when their output is a database
snapshot. ``build`` is what the worker's RQ job calls (``worker/jobs.py``) and what ``tingke report``
calls in-process; on an error the run is marked failed — or pending again when a retry will follow —
with the error kept for the page, and the error is raised again.

Idempotent by the run row (issue 13 §4): a run already finished is not built again (a job queued twice,
or retried after its worker died once the output was stored), and the builder's writes and the run's
"succeeded" are one transaction that only the first finisher commits — two executions of one run at once
(a worker thought dead that was only slow) leave one output, never two snapshots or a half-written one.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from sqlalchemy.orm import Session

from lti_tool import acting
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.services import MAX_ATTEMPTS, RunProgress

Builder = Callable[[Session, ReportRun, RunProgress], tuple[str, bytes | None]]
_BUILDERS: dict[str, Builder] = {}


def register_builder(kind: str) -> Callable[[Builder], Builder]:
    def decorator(fn: Builder) -> Builder:
        _BUILDERS[kind] = fn
        return fn

    return decorator


def load_builders() -> dict[str, Builder]:
    """Import the builder modules (each registers itself) and return the registry."""
    from lti_tool.reports import bulletin, cadre_file, contacts, report, statistics  # noqa: F401

    return _BUILDERS


def build(session: Session, run_id: int, *, retries_left: Callable[[], int] = lambda: 0) -> str:
    """Build one run's output. Safe to run twice, even at once: one output, never two."""
    builders = load_builders()
    progress = RunProgress(session, run_id)
    run = progress.start()
    if run.status != RunStatus.RUNNING:  # finished already (a job queued twice, or retried after the end)
        return f"{run.kind} {run_id} was already {run.status}"
    builder = builders.get(run.kind)
    try:
        if builder is None:
            raise RuntimeError(f"no builder for report kind {run.kind!r}")
        # In the worker nobody said who acts: the run's requester is (the CLI builds in-process as itself).
        who = acting.who() if acting.who() != acting.NOBODY else f"worker for person {run.requested_by_id}"
        with acting.acting_as(who):
            filename, content = builder(session, run, progress)
    except Exception as exc:
        session.rollback()
        will_retry = retries_left() > 0 and run.attempts < MAX_ATTEMPTS
        progress.fail(
            f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=5)}", will_retry=will_retry
        )
        raise
    if not progress.succeed(filename, content):  # another execution finished first: its output stands
        return f"{run.kind} {run_id} was finished by another execution"
    return f"{run.kind} {run_id} done"
