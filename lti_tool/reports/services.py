"""Report runs: the state row behind every piece of worker output (statistics, PDFs, exports).

A run goes pending → running → succeeded | failed and keeps its error; the page polls it. Requesting
the same output while a run for it is still pending or running returns that run instead of queueing a
second one (the natural key is kind + semester + person). The worker updates ``progress`` as it goes.
A run whose worker died (``running`` long past the job timeout) is reported as stalled and may be
requested again: the RQ job status alone is never trusted to say "running" (docs/stack-notes.md §5,
docs/decisions.md W-1).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from enum import StrEnum

import redis.exceptions
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, defer

from lti_tool.db import get_scoped, utcnow
from lti_tool.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.timetable.models import Semester

log = logging.getLogger(__name__)

JOB_TIMEOUT_SECONDS = 600
MAX_ATTEMPTS = 3
LIVE_JOB_STATUSES = ("queued", "started", "scheduled", "deferred")
"""RQ job statuses of a job that will still run, or runs: such a job is never queued a second time."""
RUN_JOB = "worker.jobs.run_report"
"""The RQ job that builds a run, enqueued by its dotted name: code below the worker never imports it."""
WAITING_FOR_QUEUE = (
    "任务队列暂时无法连接，恢复后自动生成 (the job queue is unreachable; made automatically once it is back)"
)
"""A run's message while it waits for Redis (like the worker's other progress messages, both languages)."""


class ReportKind(StrEnum):
    STATISTICS = "statistics"
    EXECUTION_REPORT = "execution_report"
    PERSONAL_ARCHIVE = "personal_archive"
    CADRE_FILE = "cadre_file"
    """The annual cadre file (三个纳入, C-7c): every cadre's duties of both systems for a year, Excel."""
    CADRE_SUMMARY = "cadre_summary"
    """The same year's cadre file as a PDF summary."""
    BULLETIN = "bulletin"
    CONTACT_REPORT = "contact_report"
    """联系基层制度执行情况报告 (issue 9 §7)."""
    CONTACT_ARCHIVE = "contact_archive"
    """A leader's contact archive of the academic year of the run's semester (C-7a)."""


class ReportRunService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def semester(self, code_or_id: str | int) -> Semester:
        stmt = select(Semester).where(Semester.institution_id == self.institution_id)
        if isinstance(code_or_id, int) or str(code_or_id).isdigit():
            stmt = stmt.where(Semester.id == int(code_or_id))
        else:
            stmt = stmt.where(Semester.code == code_or_id)
        semester = self.session.scalars(stmt).first()
        if semester is None:
            raise NotFound("No semester %(semester)s.", semester=code_or_id)
        return semester

    def request(
        self,
        kind: str,
        *,
        semester_id: int | None,
        person_id: int | None = None,
        requested_by_id: int | None = None,
        period: str = "",
        language: str = "",
        as_of: dt.date | None = None,
        issuer: str = "",
    ) -> tuple[ReportRun, bool]:
        """The run for this output: an active one (``False``) or a new pending one (``True``). A bulletin's
        checkpoint (``as_of``) is part of what it is; ``issuer`` names the office issuing it."""
        if kind not in ReportKind.__members__.values():
            raise BadRequest("Unknown report kind %(kind)s.", kind=kind)
        if semester_id is not None:
            self.semester(semester_id)
        active = self.session.scalars(
            select(ReportRun)
            .where(
                ReportRun.institution_id == self.institution_id,
                ReportRun.kind == kind,
                ReportRun.semester_id == semester_id,
                ReportRun.person_id == person_id,
                ReportRun.period == period,
                ReportRun.language == language,
                ReportRun.as_of.is_(None) if as_of is None else ReportRun.as_of == as_of,
                ReportRun.status.in_([RunStatus.PENDING, RunStatus.RUNNING]),
            )
            .order_by(ReportRun.id.desc())
        ).first()
        if active is not None and not self.is_stalled(active):
            return active, False
        if active is not None:
            active.status = RunStatus.FAILED
            active.error = "stalled: the worker stopped without finishing"
        run = ReportRun(
            institution_id=self.institution_id,
            kind=kind,
            semester_id=semester_id,
            person_id=person_id,
            requested_by_id=requested_by_id,
            period=period,
            language=language,
            status=RunStatus.PENDING,
            as_of=as_of,
            issuer=issuer,
        )
        self.session.add(run)
        self.session.flush()
        return run, True

    def start(
        self,
        kind: str,
        connection: object,
        *,
        semester_id: int | None,
        person_id: int | None = None,
        requested_by_id: int | None = None,
        period: str = "",
        language: str = "",
        as_of: dt.date | None = None,
        issuer: str = "",
    ) -> tuple[ReportRun, bool]:
        """``request`` a run and, when it is a new one, ``enqueue`` it: what views, CLI and archive call."""
        run, created = self.request(
            kind,
            semester_id=semester_id,
            person_id=person_id,
            requested_by_id=requested_by_id,
            period=period,
            language=language,
            as_of=as_of,
            issuer=issuer,
        )
        if created:
            self.enqueue([run], connection)
        return run, created

    def enqueue(self, runs: list[ReportRun], connection: object) -> None:
        """Commit the runs' rows (the worker must find them), then queue one job per run."""
        self.session.commit()
        try:
            for run in runs:
                run.job_id = enqueue_run(run.id, connection, institution_id=run.institution_id)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            # The runs are saved (committed above) and stay pending without a job: the worker's
            # reconciler (worker/queues.py) queues them within a minute once Redis answers again. The
            # run's page says so meanwhile (the message is cleared when a worker starts the run).
            for run in runs:
                run.message = WAITING_FOR_QUEUE
            self.session.commit()
            log.warning(
                "job queue unreachable; %d run(s) of institution %s wait for the reconciler: %s",
                len(runs), self.institution_id, exc.__class__.__name__,
            )  # fmt: skip
            raise ServiceUnavailable(
                "Your request was saved, but the job queue cannot be reached right now. The report will "
                "be made automatically within a minute or two of the queue being back; you need not "
                "ask again."
            ) from exc

    def is_stalled(self, run: ReportRun, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        if run.status == RunStatus.RUNNING and run.started_at is not None:
            return (now - run.started_at).total_seconds() > JOB_TIMEOUT_SECONDS + 120
        if run.status == RunStatus.PENDING:
            return (now - run.created_at).total_seconds() > 6 * 3600
        return False

    def get(self, run_id: int) -> ReportRun:
        run = get_scoped(self.session, ReportRun, run_id, self.institution_id)
        if run is None:
            raise NotFound("No such report.")
        return run

    def runs(
        self, *, kind: str | None = None, person_id: int | None = None, limit: int = 50
    ) -> list[ReportRun]:
        stmt = select(ReportRun).where(ReportRun.institution_id == self.institution_id)
        if kind:
            stmt = stmt.where(ReportRun.kind == kind)
        if person_id is not None:
            stmt = stmt.where(ReportRun.person_id == person_id)
        stmt = stmt.options(defer(ReportRun.content))  # a list needs the sizes (output_sizes), not the files
        return list(self.session.scalars(stmt.order_by(ReportRun.id.desc()).limit(limit)))

    def output_sizes(self, run_ids: list[int]) -> dict[int, int]:
        """Bytes of each finished run's file (runs without a file are absent), without loading the files."""
        if not run_ids:
            return {}
        rows = self.session.execute(
            select(ReportRun.id, func.length(ReportRun.content)).where(
                ReportRun.institution_id == self.institution_id,
                ReportRun.id.in_(run_ids),
                ReportRun.content.is_not(None),
            )
        ).all()
        return {int(i): int(n or 0) for i, n in rows}

    def latest_succeeded(
        self, kind: str, semester_id: int | None, person_id: int | None = None
    ) -> ReportRun | None:
        return self.session.scalars(
            select(ReportRun)
            .where(
                ReportRun.institution_id == self.institution_id,
                ReportRun.kind == kind,
                ReportRun.semester_id == semester_id,
                ReportRun.person_id == person_id,
                ReportRun.status == RunStatus.SUCCEEDED,
            )
            .order_by(ReportRun.frozen.desc(), ReportRun.id.desc())
        ).first()

    def download(self, run_id: int) -> ReportRun:
        run = self.get(run_id)
        if run.status != RunStatus.SUCCEEDED or run.content is None:
            raise Conflict("This report is not ready yet.")
        return run


def job_id_of(run_id: int) -> str:
    return f"report-run-{run_id}"


def enqueue_run(run_id: int, connection: object, *, institution_id: int | None = None) -> str:
    """Queue a run's job (after its row is committed, so the worker always finds it): through its
    institution's fair waiting list (``reports/fairqueue.py``), or straight into RQ without one."""
    if institution_id is not None:
        from lti_tool.reports import fairqueue

        fairqueue.submit(connection, institution_id, run_id)
        return job_id_of(run_id)
    return enqueue_job(run_id, connection)


def enqueue_job(run_id: int, connection: object) -> str:
    """The RQ job of a run, by name (``RUN_JOB``), with retries. A job of the run that will still run
    (queued, started, scheduled) is kept rather than queued twice; a finished or failed one is replaced."""
    from rq import Queue, Retry
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    with contextlib.suppress(NoSuchJobError):
        live = Job.fetch(job_id_of(run_id), connection=connection)  # type: ignore[arg-type]
        if live.get_status() in LIVE_JOB_STATUSES:
            return str(live.id)
    job = Queue("reports", connection=connection).enqueue(  # type: ignore[arg-type]
        RUN_JOB,
        run_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        retry=Retry(max=MAX_ATTEMPTS - 1),
        job_id=job_id_of(run_id),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return str(job.id)


class RunProgress:
    """Worker-side writes to a run's state row, each committed at once so the page sees it.

    Only an unfinished run (pending or running) changes: ``start`` leaves a finished one as it is (the
    caller then stops), and ``succeed`` stores the output together with the builder's writes in one
    commit that only the first of two executions of the run can make."""

    ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)

    def __init__(self, session: Session, run_id: int) -> None:
        self.session = session
        self.run_id = run_id

    def _set(self, **values: object) -> int:
        """Update the run while it is unfinished and commit; how many rows changed (0 or 1)."""
        changed = self.session.execute(
            update(ReportRun)
            .where(ReportRun.id == self.run_id, ReportRun.status.in_(self.ACTIVE))
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            self.session.commit()
        else:  # finished meanwhile by another execution: nothing of this one is kept
            self.session.rollback()
        return int(changed)

    def start(self) -> ReportRun:
        """Mark the run running (one more attempt); a finished run is returned unchanged."""
        run = self.session.get(ReportRun, self.run_id)
        if run is None:
            raise NotFound("No such report run %(id)s.", id=self.run_id)
        self._set(
            status=RunStatus.RUNNING,
            started_at=utcnow(),
            progress=0,
            error="",
            attempts=(run.attempts or 0) + 1,
            message="",
        )
        self.session.refresh(run)
        return run

    def __call__(self, percent: int, message: str = "") -> None:
        self._set(progress=max(0, min(100, int(percent))), message=message[:500])

    def succeed(self, filename: str = "", content: bytes | None = None) -> bool:
        """Store the output; ``False`` (and the builder's writes rolled back) when another execution of
        the run finished first. On PostgreSQL the second UPDATE waits for the first's commit and then
        finds the run finished; SQLite lets one writer at a time."""
        return bool(
            self._set(
                status=RunStatus.SUCCEEDED,
                progress=100,
                finished_at=utcnow(),
                filename=filename,
                content=content,
                error="",
            )
        )

    def fail(self, error: str, *, will_retry: bool) -> None:
        status = RunStatus.PENDING if will_retry else RunStatus.FAILED
        message = "出错后重试中 (retrying after an error)" if will_retry else ""
        if not self._set(
            status=status, error=error[:4000], message=message, finished_at=None if will_retry else utcnow()
        ):
            return  # another execution finished the run: its outcome stands
        run = self.session.get(ReportRun, self.run_id)
        log.error(
            "report run %s (%s) of institution %s, requested by person %s, failed%s: %s",
            self.run_id, run.kind if run else "?", run.institution_id if run else "?",
            run.requested_by_id if run else None, " (will retry)" if will_retry else "",
            error.splitlines()[0] if error else "",
        )  # fmt: skip
