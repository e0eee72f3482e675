"""Large imports run as worker jobs with progress, never inside a web request (issue 13 §5).

A domain registers its importer once (``register_importer``: a kind, the function the CLI and the page
already call, its columns, who may watch it, the page to go back to; optionally a ``preview`` and an
``apply`` for an import that shows what it would change first). An import view calls
``views.receive(kind)`` (``ImportRunService.receive``): an upload within ``TINGKE_IMPORT_INLINE_BYTES`` of
work comes back as bytes and is imported in the request as before; a larger one is checked cheaply first
on the spooled upload (its size and, for an XLSX, its zip directory and its sheet's declared rows; for a
CSV its header, rows and cells, streamed with nothing kept) and refused there with a 413/422 naming the
limit, or handed to ``start``: an ``ImportRun`` row and its file in ``ImportRunPart`` pieces, committed,
and an RQ job (``worker.jobs.run_import``, by name) that runs the same importer in one transaction. The
page polls the run; the job reports how far the reader is through Redis (the import's transaction commits
the data and the run's "succeeded" together, so nothing is ever half-imported). A previewed kind's job
stores only the preview; ``confirm`` sends the run on to its apply stage, a second job
(docs/decisions.md I-5). A refused file leaves nothing behind but the run's reasons; an error of ours is
retried twice; running a job twice imports once (a finished run is not run again, and every importer
updates rather than duplicates).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import redis.exceptions
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lti_tool import acting, tabular
from lti_tool.db import get_scoped, utcnow
from lti_tool.errors import Conflict, NotFound, ServiceUnavailable, TingkeError
from lti_tool.i18n import N_
from lti_tool.import_runs.models import ImportRun, ImportRunPart

log = logging.getLogger(__name__)

IMPORT_JOB = "worker.jobs.run_import"
"""The RQ job, enqueued by its dotted name: nothing below the worker imports it."""
QUEUE = "default"
JOB_TIMEOUT_SECONDS = 1800
MAX_ATTEMPTS = 3
MAX_DETAILS = 1000
"""Row problems kept for the page; the count of the others is kept too."""
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
IMPORT, PREVIEW, APPLY = "import", "preview", "apply"
"""A run's stages: one step, or a preview (the file kept) and, once confirmed, its apply."""
PREVIEW_LIFETIME = dt.timedelta(hours=1)
"""How long a finished preview may be confirmed; then its file is dropped (``start`` sweeps)."""
PART_BYTES = 512 * 1024
"""The pieces a run's file is stored in (``ImportRunPart``): what a web worker holds of it at a time."""
OUR_ERROR = N_(
    "The import stopped because of an error on our side; nothing from the file was stored. Please try "
    "again later; if it happens again, tell the quality center."
)

Importer = Callable[[Session, int, bytes, str], Any]
"""(session, institution id, file, file name) → the importer's result (``created``, ``updated``,
``unchanged``, ``removed`` attributes are kept); raises ``ValidationFailed`` to refuse the file."""
Previewer = Callable[[Session, int, bytes, str, dict[str, Any]], dict[str, Any]]
"""(session, institution id, file, file name, options) → what the import would change, as JSON for the
preview page; stores nothing."""
Applier = Callable[[Session, int, bytes, str, dict[str, Any], dict[str, Any]], Any]
"""(session, institution id, file, file name, options, the preview) → the importer's result, storing
exactly what the preview showed (``Conflict`` when that is no longer so)."""


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
    preview: Previewer | None = None
    apply: Applier | None = None
    preview_template: str = ""
    """The domain's template showing a run's preview (``run``, ``preview``, ``confirm_url``); with
    ``preview`` and ``apply``, the kind is previewed first and stored only once confirmed."""
    confirm_check: Callable[[dict[str, Any]], None] | None = None
    """Raises ``ValidationFailed`` when the confirmation lacks what the options require."""
    preview_context: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The preview template's variables from the run's stored preview (default: ``preview`` itself)."""


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
    preview: Previewer | None = None,
    apply: Applier | None = None,
    preview_template: str = "",
    confirm_check: Callable[[dict[str, Any]], None] | None = None,
    preview_context: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[[Importer], Importer]:
    def decorator(fn: Importer) -> Importer:
        _IMPORTERS[kind] = Registered(
            kind, fn, aliases, required, label, personas, back, back_label,
            preview, apply, preview_template, confirm_check, preview_context,
        )  # fmt: skip
        return fn

    return decorator


def registered(kind: str) -> Registered:
    if kind not in _IMPORTERS:
        raise NotFound("No such import.")
    return _IMPORTERS[kind]


def job_id_of(run_id: int, stage: str = IMPORT) -> str:
    return f"import-run-{run_id}-apply" if stage == APPLY else f"import-run-{run_id}"


@dataclass(frozen=True)
class Received:
    """An upload taken by ``ImportRunService.receive``: a run its job imports, or the bytes of a file
    small enough to import in the request."""

    run: ImportRun | None
    data: bytes = b""


def progress_key(run_id: int) -> str:
    return f"tingke:import-run:{run_id}:progress"


class ImportRunService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    @staticmethod
    def needs_job(kind: str, data: bytes | IO[bytes], filename: str) -> int | None:
        """``None`` when the upload is small enough to import in the request; otherwise the data rows it
        holds (a CSV's counted, an XLSX's as its sheet declares them), after the checks that can be made
        without keeping anything. Raises ``TooLarge`` / ``ValidationFailed`` naming the limit."""
        upload = tabular.inspect_upload(data, filename)
        if upload.runs_inline:
            return None
        if upload.is_xlsx:  # openpyxl holds a workbook's shared strings in memory: not in a web worker
            return upload.declared_rows
        entry = registered(kind)
        return tabular.check_table(data, filename, entry.aliases, entry.required)

    def receive(
        self,
        kind: str,
        stream: IO[bytes],
        filename: str,
        connect: Callable[[], Any],
        *,
        requested_by_id: int | None,
        options: dict[str, Any] | None = None,
    ) -> Received:
        """An upload from a page (its spooled file, never read whole here): checked cheaply, then either
        returned as bytes to import in the request (within ``TINGKE_IMPORT_INLINE_BYTES``) or stored
        piece by piece as a run whose job imports it — previews it first when the kind is previewed."""
        rows = self.needs_job(kind, stream, filename)
        stream.seek(0)
        if rows is None:
            return Received(None, stream.read())
        stage = PREVIEW if registered(kind).preview is not None else IMPORT
        run = self.start(
            kind, stream, filename, connect(),
            requested_by_id=requested_by_id, rows=rows, options=options, stage=stage,
        )  # fmt: skip
        return Received(run)

    def start(
        self,
        kind: str,
        data: bytes | IO[bytes],
        filename: str,
        connection: Any,
        *,
        requested_by_id: int | None,
        rows: int = 0,
        options: dict[str, Any] | None = None,
        stage: str = IMPORT,
    ) -> ImportRun:
        """Record the run with its file (in ``PART_BYTES`` pieces, read from the stream one at a time),
        commit it (the worker must find it), then queue its job. When the queue cannot be reached the run
        stays pending and the worker's reconciler queues it."""
        registered(kind)
        self._drop_stale_previews()
        run = ImportRun(
            institution_id=self.institution_id,
            kind=kind,
            filename=filename[:200],
            requested_by_id=requested_by_id,
            status=PENDING,
            stage=stage,
            options=dict(options or {}),
            rows=rows,
        )
        self.session.add(run)
        self.session.flush()
        stream = tabular.as_stream(data)
        stream.seek(0)
        seq = 0
        while chunk := stream.read(PART_BYTES):
            part = ImportRunPart(run_id=run.id, seq=seq, data=chunk)
            self.session.add(part)
            self.session.flush()
            self.session.expunge(part)  # written: this request need not keep it
            seq += 1
        self.session.commit()
        self._enqueue(run, connection)
        return run

    def _drop_stale_previews(self) -> None:
        """The files of this institution's previews nobody confirmed within ``PREVIEW_LIFETIME``."""
        stale = select(ImportRun.id).where(
            ImportRun.institution_id == self.institution_id,
            ImportRun.stage == PREVIEW,
            ImportRun.status == SUCCEEDED,
            ImportRun.finished_at < utcnow() - PREVIEW_LIFETIME,
        )
        self.session.execute(delete(ImportRunPart).where(ImportRunPart.run_id.in_(stale)))

    def _enqueue(self, run: ImportRun, connection: Any) -> None:
        try:
            run.job_id = enqueue(run.id, connection, run.stage)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("job queue unreachable; import run %s waits for the reconciler", run.id)
            raise ServiceUnavailable(
                "Your file was received, but the job queue cannot be reached right now. It will be "
                "imported automatically within a minute or two of the queue being back; you need not "
                "upload it again."
            ) from exc
        self.session.commit()

    def confirm(self, run_id: int, connection: Any, flags: dict[str, Any]) -> ImportRun:
        """Store what a run's preview showed: the run goes on to its apply stage, as a job (it reads the
        file and works out the changes again, which for a large file is no work for a web request)."""
        run = self.get(run_id)
        entry = registered(run.kind)
        if run.stage != PREVIEW or run.status != SUCCEEDED or not run.preview:
            raise Conflict("This preview was already confirmed, or it is not finished: reload the page.")
        if run.finished_at is None or run.finished_at < utcnow() - PREVIEW_LIFETIME:
            raise Conflict(
                "This preview has expired or was already imported. Nothing was stored from it: upload the "
                "file again."
            )
        options = dict(run.options or {}) | flags
        if entry.confirm_check is not None:
            entry.confirm_check(options)
        claimed = self.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run.id, ImportRun.stage == PREVIEW, ImportRun.status == SUCCEEDED)
            .values(stage=APPLY, status=PENDING, progress=0, attempts=0, options=options, finished_at=None)
        )
        if getattr(claimed, "rowcount", 1) != 1:  # a second click, or another tab, confirmed it first
            raise Conflict("This preview was already confirmed, or it is not finished: reload the page.")
        self.session.commit()
        self.session.refresh(run)
        log.info("import run %s (%s) confirmed", run.id, run.kind)
        self._enqueue(run, connection)
        return run

    def get(self, run_id: int) -> ImportRun:
        run = get_scoped(self.session, ImportRun, run_id, self.institution_id)
        if run is None:
            raise NotFound("No such import.")
        return run


def enqueue(run_id: int, connection: Any, stage: str = IMPORT) -> str:
    from rq import Queue, Retry

    job = Queue(QUEUE, connection=connection).enqueue(
        IMPORT_JOB,
        run_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        retry=Retry(max=MAX_ATTEMPTS - 1),
        job_id=job_id_of(run_id, stage),
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


def file_of(session: Session, run: ImportRun) -> bytes:
    """A run's file, from its pieces (or the one column of a run recorded before they existed)."""
    parts = session.scalars(
        select(ImportRunPart.data).where(ImportRunPart.run_id == run.id).order_by(ImportRunPart.seq)
    ).all()
    return b"".join(parts) if parts else (run.upload or b"")


def run(
    session: Session,
    run_id: int,
    *,
    report: Callable[[int, int], None] = lambda percent, rows: None,
    retries_left: Callable[[], int] = lambda: 0,
) -> str:
    """The job's work: import a run's file with its registered importer, in one transaction that also
    marks the run succeeded. A preview stage stores nothing but the preview (the file is kept for the
    confirmation); an apply stage stores what the preview showed. A refused file fails the run with the
    importer's reasons; an unexpected error leaves it pending for RQ's retry (failed after the last
    attempt) and is raised again."""
    found = session.get(ImportRun, run_id)
    if found is None:
        raise NotFound("No such import run %(id)s.", id=run_id)
    if found.status in (SUCCEEDED, FAILED):
        return f"import run {run_id} already {found.status}"
    entry = registered(found.kind)
    stage, options, preview = found.stage or IMPORT, dict(found.options or {}), dict(found.preview or {})
    found.status, found.started_at, found.attempts = RUNNING, utcnow(), (found.attempts or 0) + 1
    session.commit()
    data, filename = file_of(session, found), found.filename
    institution_id, requester = found.institution_id, found.requested_by_id

    def reading(fraction: float, rows: int) -> None:
        report(min(90, int(90 * fraction)), rows)

    values: dict[str, Any]
    try:
        with acting.acting_as(f"worker for person {requester}"), tabular.reporting(reading):
            if stage == PREVIEW and entry.preview is not None:
                found_preview = entry.preview(session, institution_id, data, filename, options)
                session.rollback()  # a preview stores nothing
                values = {"preview": found_preview}
            elif stage == APPLY and entry.apply is not None:
                values = {
                    "result": _counts(entry.apply(session, institution_id, data, filename, options, preview))
                }
            else:
                values = {"result": _counts(entry.run(session, institution_id, data, filename))}
        if stage != PREVIEW:
            session.execute(delete(ImportRunPart).where(ImportRunPart.run_id == run_id))
            values |= {"upload": None}
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(status=SUCCEEDED, progress=100, finished_at=utcnow(), **values)
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
        log.info("import run %s (%s, %s) of institution %s refused: %s", run_id, entry.kind, stage,
                 institution_id, err)  # fmt: skip
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
    log.info("import run %s (%s, %s) of institution %s done", run_id, entry.kind, stage, institution_id)
    return f"import run {run_id} {stage} done: {values.get('result', 'previewed')}"


def _counts(result: Any) -> dict[str, int]:
    return {
        k: int(getattr(result, k))
        for k in ("created", "updated", "unchanged", "removed")
        if hasattr(result, k)
    }


def _finish(session: Session, run_id: int, *, status: str, finished: bool = True, **values: Any) -> None:
    if finished:
        values |= {"finished_at": utcnow(), "upload": None}
        session.execute(delete(ImportRunPart).where(ImportRunPart.run_id == run_id))
    session.execute(update(ImportRun).where(ImportRun.id == run_id).values(status=status, **values))
    session.commit()


def orphans(session: Session) -> list[ImportRun]:
    """Unfinished runs: the worker's reconciler queues those without a live job (Redis was down when they
    started, or their worker died and RQ gave up on the job)."""
    return list(session.scalars(select(ImportRun).where(ImportRun.status.in_((PENDING, RUNNING)))))
