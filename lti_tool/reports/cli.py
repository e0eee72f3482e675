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
from lti_tool.reports.cadre_file import year_of_period
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.runner import build
from lti_tool.reports.services import ReportKind, ReportRunService

KINDS = [
    ReportKind.EXECUTION_REPORT.value,
    ReportKind.PERSONAL_ARCHIVE.value,
    ReportKind.STATISTICS.value,
    ReportKind.CONTACT_REPORT.value,
    ReportKind.CONTACT_ARCHIVE.value,
    ReportKind.CADRE_FILE.value,
    ReportKind.CADRE_SUMMARY.value,
]
PERSON_KINDS = {ReportKind.PERSONAL_ARCHIVE, ReportKind.CONTACT_ARCHIVE}
YEAR_KINDS = {ReportKind.CADRE_FILE, ReportKind.CADRE_SUMMARY}
"""The annual cadre file is made for a year (``--year``), the other kinds for a semester (``--semester``);
a bulletin is issued by an office from its page (it is numbered and tells the leaders it names)."""


def register(cli: click.Group) -> None:
    @cli.command("report")
    @click.option("--semester", "semester_code", default=None, help="Semester code, e.g. 2026-2027-1.")
    @click.option(
        "--year",
        "year_code",
        default=None,
        help="For the cadre file: an academic year (ay:2026-2027) or a calendar year (cy:2026).",
    )
    @click.option(
        "--language",
        type=click.Choice(["zh_CN", "en"]),
        default="zh_CN",
        show_default=True,
        help="The cadre file's language.",
    )
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
        "--person",
        "employee_no",
        default=None,
        help="Employee number (for --kind personal_archive and contact_archive).",
    )
    @institution_option
    @pass_ctx
    @guarded
    def report(
        ctx: CliContext,
        semester_code: str | None,
        year_code: str | None,
        language: str,
        out: Path | None,
        kind: str,
        employee_no: str | None,
        institution_code: str | None,
    ) -> None:
        """Build a report of either system, a personal archive, the statistics or the annual cadre file."""
        if kind != ReportKind.STATISTICS and out is None:
            fail("--out FILE is required for this kind")
        if kind in PERSON_KINDS and not employee_no:
            fail("--person EMPLOYEE_NO is required for an archive")
        if kind in YEAR_KINDS:
            if not year_code:
                fail("--year is required for the cadre file (ay:2026-2027 or cy:2026)")
            try:
                period = year_of_period((year_code or "").strip()).code
            except ValueError:
                fail(f"--year {year_code!r} is neither ay:YYYY-YYYY nor cy:YYYY")
        elif not semester_code:
            fail("--semester CODE is required for this kind")
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            service = ReportRunService(s, inst.id)
            semester_id = None if kind in YEAR_KINDS else service.semester(semester_code or "").id
            person_id = None
            if kind in PERSON_KINDS:
                person = s.scalars(
                    select(Person).where(Person.institution_id == inst.id, Person.employee_no == employee_no)
                ).first()
                if person is None:
                    fail(f"no person with employee number {employee_no!r}")
                person_id = person.id  # type: ignore[union-attr]
            if kind in YEAR_KINDS:
                run, _created = service.request(kind, semester_id=None, period=period, language=language)
            else:
                run, _created = service.request(kind, semester_id=semester_id, person_id=person_id)
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
