"""Large imports run as worker jobs with progress, never inside a web request (issue 13 §5).

A domain registers its importer once (``register_importer``: a kind, the function the CLI and the page
already call, its columns, who may watch it, the page to go back to). An import view then asks
``ImportRunService.needs_job``: an upload within ``TINGKE_IMPORT_INLINE_BYTES`` of work is imported in
the request as before; a larger one is checked cheaply first (its size and, for an XLSX, its zip
directory; for a CSV its header, rows and cells, streamed with nothing kept) and refused there with a
413/422 naming the limit, or handed to ``start``: an ``ImportRun`` row holding the file, committed, and an
RQ job (``worker.jobs.run_import``, by name) that runs the same importer in one transaction. The page
polls the run; the job reports how far the reader is through Redis (the import's transaction commits
the data and the run's "succeeded" together, so nothing is ever half-imported). A refused file leaves
nothing behind but the run's reasons; an error of ours is retried twice; running a job twice imports
once (a finished run is not run again, and every importer updates rather than duplicates).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool import acting, tabular
from lti_tool.db import get_scoped, utcnow
from lti_tool.errors import NotFound, ServiceUnavailable, TingkeError
from lti_tool.i18n import N_
from lti_tool.import_runs.models import ImportRun

log = logging.getLogger(__name__)

IMPORT_JOB = "worker.jobs.run_import"
"""The RQ job, enqueued by its dotted name: nothing below the worker imports it."""
QUEUE = "default"
JOB_TIMEOUT_SECONDS = 1800
MAX_ATTEMPTS = 3
MAX_DETAILS = 1000
"""Row problems kept for the page; the count of the others is kept too."""
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
OUR_ERROR = N_(
    "The import stopped because of an error on our side; nothing from the file was stored. Please try "
    "again later; if it happens again, tell the quality center."
)

Importer = Callable[[Session, int, bytes, str], Any]
"""(session, institution id, file, file name) → the importer's result (``created``, ``updated``,
``unchanged``, ``removed`` attributes are kept); raises ``ValidationFailed`` to refuse the file."""


@dataclass(frozen=True)
class Registered:
    kind: str
    run: Importer
    aliases: dict[str, list[str]]
    required: list[str]
    label: str
    """A catalog msgid naming the import on its page (e.g. "Import people")."""
    personas: tuple[str, ...]
    """Who may start it and watch its page."""
    back: str
    """The endpoint the page links back to (the list the import fills)."""
    back_label: str
    """A catalog msgid for that link."""


_IMPORTERS: dict[str, Registered] = {}


def register_importer(
    kind: str,
    *,
    aliases: dict[str, list[str]],
    required: list[str],
    label: str,
    personas: tuple[str, ...],
    back: str,
    back_label: str,
) -> Callable[[Importer], Importer]:
    def decorator(fn: Importer) -> Importer:
        _IMPORTERS[kind] = Registered(kind, fn, aliases, required, label, personas, back, back_label)
        return fn

    return decorator


def registered(kind: str) -> Registered:
    if kind not in _IMPORTERS:
        raise NotFound("No such import.")
    return _IMPORTERS[kind]


def job_id_of(run_id: int) -> str:
    return f"import-run-{run_id}"


def progress_key(run_id: int) -> str:
    return f"tingke:import-run:{run_id}:progress"


class ImportRunService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    @staticmethod
    def needs_job(kind: str, data: bytes, filename: str) -> int | None:
        """``None`` when the upload is small enough to import in the request; otherwise the data rows a
        CSV holds (0 for an XLSX: its rows are read by the job), after the checks that can be made
        without keeping anything. Raises ``TooLarge`` / ``ValidationFailed`` naming the limit."""
        upload = tabular.inspect_upload(data, filename)
        if upload.runs_inline:
            return None
        if upload.is_xlsx:  # openpyxl holds a workbook's shared strings in memory: not in a web worker
            return 0
        entry = registered(kind)
        return tabular.check_table(data, filename, entry.aliases, entry.required)

    def start(
        self,
        kind: str,
        data: bytes,
        filename: str,
        connection: Any,
        *,
        requested_by_id: int | None,
        rows: int = 0,
    ) -> ImportRun:
        """Record the run with its file, commit it (the worker must find it), then queue its job. When the
        queue cannot be reached the run stays pending and the worker's reconciler queues it."""
        registered(kind)
        run = ImportRun(
            institution_id=self.institution_id,
            kind=kind,
            filename=filename[:200],
            requested_by_id=requested_by_id,
            status=PENDING,
            rows=rows,
            upload=data,
        )
        self.session.add(run)
        self.session.flush()
        self.session.commit()
        try:
            run.job_id = enqueue(run.id, connection)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("job queue unreachable; import run %s waits for the reconciler", run.id)
            raise ServiceUnavailable(
                "Your file was received, but the job queue cannot be reached right now. It will be "
                "imported automatically within a minute or two of the queue being back; you need not "
                "upload it again."
            ) from exc
        return run

    def get(self, run_id: int) -> ImportRun:
        run = get_scoped(self.session, ImportRun, run_id, self.institution_id)
        if run is None:
            raise NotFound("No such import.")
        return run


def enqueue(run_id: int, connection: Any) -> str:
    from rq import Queue, Retry

    job = Queue(QUEUE, connection=connection).enqueue(
        IMPORT_JOB,
        run_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        retry=Retry(max=MAX_ATTEMPTS - 1),
        job_id=job_id_of(run_id),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return str(job.id)


def read_progress(connection: Any, run: ImportRun) -> tuple[int, int]:
    """(percent, rows read) of a running run, as its job last reported it; the row's own when unknown."""
    if run.status != RUNNING or connection is None:
        return run.progress, 0
    try:
        raw = connection.get(progress_key(run.id))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return run.progress, 0
    if not raw:
        return run.progress, 0
    value = json.loads(raw)
    return int(value.get("percent", 0)), int(value.get("rows", 0))


def _json_safe(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else str(value)


def run(
    session: Session,
    run_id: int,
    *,
    report: Callable[[int, int], None] = lambda percent, rows: None,
    retries_left: Callable[[], int] = lambda: 0,
) -> str:
    """The job's work: import a run's file with its registered importer, in one transaction that also
    marks the run succeeded. A refused file fails the run with the importer's reasons; an unexpected error
    leaves it pending for RQ's retry (failed after the last attempt) and is raised again."""
    found = session.get(ImportRun, run_id)
    if found is None:
        raise NotFound("No such import run %(id)s.", id=run_id)
    if found.status in (SUCCEEDED, FAILED):
        return f"import run {run_id} already {found.status}"
    entry = registered(found.kind)
    found.status, found.started_at, found.attempts = RUNNING, utcnow(), (found.attempts or 0) + 1
    session.commit()
    data, filename = found.upload or b"", found.filename
    institution_id, requester = found.institution_id, found.requested_by_id

    def reading(fraction: float, rows: int) -> None:
        report(min(90, int(90 * fraction)), rows)

    try:
        with acting.acting_as(f"worker for person {requester}"), tabular.reporting(reading):
            result = entry.run(session, institution_id, data, filename)
        counts = {
            k: int(getattr(result, k))
            for k in ("created", "updated", "unchanged", "removed")
            if hasattr(result, k)
        }
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(status=SUCCEEDED, progress=100, result=counts, finished_at=utcnow(), upload=None)
        )
        session.commit()  # the data and the run's success together
    except TingkeError as err:
        session.rollback()
        details = [list(d) if isinstance(d, tuple) else d for d in err.details]
        kept = details[:MAX_DETAILS]
        if len(details) > MAX_DETAILS:
            kept.append(f"… {len(details) - MAX_DETAILS} more")
        _finish(
            session,
            run_id,
            status=FAILED,
            error=err.message,
            error_params={k: _json_safe(v) for k, v in err.params.items()},
            details=kept,
        )
        return f"import run {run_id} refused: {err}"
    except Exception:
        session.rollback()
        will_retry = retries_left() > 0
        log.error(
            "import run %s (%s) of institution %s failed%s:\n%s",
            run_id, entry.kind, institution_id, " (will retry)" if will_retry else "",
            traceback.format_exc(limit=5),
        )  # fmt: skip
        if will_retry:
            _finish(session, run_id, status=PENDING, finished=False)
        else:
            _finish(session, run_id, status=FAILED, error=OUR_ERROR, error_params={}, details=[])
        raise
    return f"import run {run_id} done: {counts}"


def _finish(session: Session, run_id: int, *, status: str, finished: bool = True, **values: Any) -> None:
    if finished:
        values |= {"finished_at": utcnow(), "upload": None}
    session.execute(update(ImportRun).where(ImportRun.id == run_id).values(status=status, **values))
    session.commit()


def orphans(session: Session) -> list[ImportRun]:
    """Unfinished runs: the worker's reconciler queues those without a live job (Redis was down when they
    started, or their worker died and RQ gave up on the job)."""
    return list(session.scalars(select(ImportRun).where(ImportRun.status.in_((PENDING, RUNNING)))))
