"""``tingke report``: build a report from the shell through the worker's own code path.

It records a ``ReportRun`` exactly as the page does and runs the RQ job function ``run_report`` in this
process (no Redis needed), so the shell, the worker and the page produce the same file and leave the
same state row behind.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from lti_tool.cli_support import CliContext, fail, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.directory.models import Person
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.runner import build
from lti_tool.reports.services import ReportKind, ReportRunService

KINDS = [
    ReportKind.EXECUTION_REPORT.value,
    ReportKind.PERSONAL_ARCHIVE.value,
    ReportKind.STATISTICS.value,
]


def register(cli: click.Group) -> None:
    @cli.command("report")
    @click.option("--semester", "semester_code", required=True, help="Semester code, e.g. 2026-2027-1.")
    @click.option(
        "--out",
        "out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write the file (not needed for --kind statistics).",
    )
    @click.option(
        "--kind", type=click.Choice(KINDS), default=ReportKind.EXECUTION_REPORT.value, show_default=True
    )
    @click.option(
        "--person", "employee_no", default=None, help="Employee number (for --kind personal_archive)."
    )
    @institution_option
    @pass_ctx
    @guarded
    def report(
        ctx: CliContext,
        semester_code: str,
        out: Path | None,
        kind: str,
        employee_no: str | None,
        institution_code: str | None,
    ) -> None:
        """Build the execution report (PDF), a personal archive or the statistics."""
        if kind != ReportKind.STATISTICS and out is None:
            fail("--out FILE is required for this kind")
        if kind == ReportKind.PERSONAL_ARCHIVE and not employee_no:
            fail("--person EMPLOYEE_NO is required for a personal archive")
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            service = ReportRunService(s, inst.id)
            semester = service.semester(semester_code)
            person_id = None
            if kind == ReportKind.PERSONAL_ARCHIVE:
                person = s.scalars(
                    select(Person).where(Person.institution_id == inst.id, Person.employee_no == employee_no)
                ).first()
                if person is None:
                    fail(f"no person with employee number {employee_no!r}")
                person_id = person.id  # type: ignore[union-attr]
            run, _created = service.request(kind, semester_id=semester.id, person_id=person_id)
            run_id = run.id
        try:  # built in-process, by the same service the worker's job calls
            with ctx.session() as s:
                build(s, run_id)
        except Exception as exc:  # the run row keeps the full error; show its first line
            fail(f"report run {run_id} failed: {exc.__class__.__name__}: {exc}")
        with ctx.session() as s:
            done = s.scalars(select(ReportRun).where(ReportRun.id == run_id)).one()
            if done.status != RunStatus.SUCCEEDED:
                fail(
                    f"report run {run_id} ended as {done.status}: "
                    f"{done.error.splitlines()[0] if done.error else ''}"
                )
            if out is not None and done.content is not None:
                out.write_bytes(done.content)
                click.echo(f"{out} ({len(done.content):,} bytes) — run {run_id}, {done.filename}")
            else:
                click.echo(f"statistics of {semester_code} stored — run {run_id}")
