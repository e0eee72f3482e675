"""Building one report run: the registry of builders per report kind and the run's life around a build.

Builders are registered per report kind (``register_builder``); they receive the session, the run and a
progress callback, and return (filename, bytes) or (``""``, ``None``) when their output is a database
snapshot. ``build`` is what the worker's RQ job calls (``worker/jobs.py``) and what ``tingke report``
calls in-process; on an error the run is marked failed — or pending again when a retry will follow —
with the error kept for the page, and the error is raised again.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from sqlalchemy.orm import Session

from lti_tool import acting
from lti_tool.reports.models import ReportRun
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
    from lti_tool.reports import bulletin, contacts, exports, report, statistics  # noqa: F401

    return _BUILDERS


def build(session: Session, run_id: int, *, retries_left: Callable[[], int] = lambda: 0) -> str:
    """Build one run's output. Safe to run twice (the output is replaced, never duplicated)."""
    builders = load_builders()
    progress = RunProgress(session, run_id)
    run = progress.start()
    builder = builders.get(run.kind)
    try:
        if builder is None:
            raise RuntimeError(f"no builder for report kind {run.kind!r}")
        # In the worker nobody said who acts: the run's requester is (the CLI builds in-process as itself).
        who = acting.who() if acting.who() != acting.NOBODY else f"worker for person {run.requested_by_id}"
        with acting.acting_as(who):
            filename, content = builder(session, run, progress)
        session.commit()
    except Exception as exc:
        session.rollback()
        will_retry = retries_left() > 0 and run.attempts < MAX_ATTEMPTS
        progress.fail(
            f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=5)}", will_retry=will_retry
        )
        raise
    progress.succeed(filename, content)
    return f"{run.kind} {run_id} done"
