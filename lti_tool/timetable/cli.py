"""``tingke semester add|list`` and ``tingke import periods|timetable``."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.directory.cli import import_group
from lti_tool.tabular import read_file
from lti_tool.timetable.importer import TimetableImporter, TimetableImportResult
from lti_tool.timetable.periods import PeriodService
from lti_tool.timetable.semesters import SemesterService


def semester_group(cli: click.Group) -> click.Group:
    """The shared ``tingke semester`` group (other domains may add e.g. ``archive`` to it)."""
    existing = cli.commands.get("semester")
    if isinstance(existing, click.Group):
        return existing

    @cli.group("semester")
    def semester() -> None:
        """Semesters: week-1 Monday, teaching weeks and holidays."""

    return semester


def register(cli: click.Group) -> None:
    semester = semester_group(cli)

    @semester.command("add")
    @click.argument("code")
    @click.option("--start", required=True, help="The Monday of week 1 (YYYY-MM-DD).")
    @click.option("--weeks", required=True, type=int, help="Number of teaching weeks.")
    @click.option(
        "--holiday",
        "holidays",
        multiple=True,
        help="A holiday YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD (repeatable).",
    )
    @institution_option
    @pass_ctx
    @guarded
    def semester_add(
        ctx: CliContext,
        code: str,
        start: str,
        weeks: int,
        holidays: tuple[str, ...],
        institution_code: str | None,
    ) -> None:
        """Add a semester, e.g. ``tingke semester add 2026-2027-1 --start 2026-09-07 --weeks 16``."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            sem = SemesterService(s, inst.id).add(code, start, weeks, holidays)
            click.echo(
                f"semester {sem.code}: {sem.start_date}..{sem.end_date}, {sem.weeks} weeks, "
                f"{len(sem.holidays)} holiday(s)"
            )

    @semester.command("list")
    @institution_option
    @pass_ctx
    @guarded
    def semester_list(ctx: CliContext, institution_code: str | None) -> None:
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            service = SemesterService(s, inst.id)
            counts = service.session_counts()
            for sem in service.all():
                c = counts.get(sem.id, {})
                click.echo(
                    f"{sem.code}\t{sem.start_date}..{sem.end_date}\t{sem.weeks} weeks\t{sem.status}\t"
                    f"{len(sem.holidays)} holidays\t{c.get('sections', 0)} sections\t"
                    f"{c.get('sessions', 0)} sessions"
                )

    group = import_group(cli)

    @group.command("periods")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_periods(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Period table: period (节次), start (开始), end (结束) as HH:MM; the file replaces the table."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            click.echo(f"periods: {PeriodService(s, inst.id).import_periods(data, name)}")

    @group.command("timetable")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--apply", "apply_", is_flag=True, help="Store the changes (without it: a dry run).")
    @click.option(
        "--replace",
        is_flag=True,
        help="The file is its semesters' whole timetable: remove every section it does not list.",
    )
    @institution_option
    @pass_ctx
    @guarded
    def import_timetable(
        ctx: CliContext, file: str, apply_: bool, replace: bool, institution_code: str | None
    ) -> None:
        """Timetable export: semester, course_code, course_name, course_kind, offering unit, teacher_no (;),
        classes (;), student unit, weekday, periods, weeks, room, full_time (English or Chinese headers).

        Without --apply, shows what would change and stores nothing. An update (the default) keeps the
        timetable of courses the file does not list; --replace removes them."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            importer = TimetableImporter(s, inst.id)
            if apply_:
                result = importer.import_file(data, name, replace=replace)
            else:
                result = importer.preview(data, name, replace=replace)
            for line in describe_import(result):
                click.echo(line)
            if not apply_:
                s.rollback()
                click.echo("dry run: nothing stored; run again with --apply to store these changes")
                return
        click.echo("imported")


def describe_import(result: TimetableImportResult, limit: int = 20) -> list[str]:
    """The CLI's summary of an import or its preview: what the page's preview shows."""
    lines = [
        f"timetable ({'replace' if result.replace else 'update'}): {result.rows} rows",
        f"  sections: {result.sections_created} added, {result.sections_updated} changed, "
        f"{result.sections_removed} removed, {result.sections_unchanged} unchanged"
        + (f", {result.sections_kept} not in the file kept" if result.sections_kept else ""),
        f"  class sessions: {result.sessions_created} added, {result.sessions_updated} changed, "
        f"{result.sessions_removed} removed",
        f"  observed class sessions touched: {len(result.observed)} (their records are kept)",
    ]
    statuses = {"changed": "changed", "vanished": "no longer in the timetable", "active": "back"}
    for o in result.observed[:limit]:
        lines.append(
            f"    {o.date.isoformat()} periods {o.period_start}-{o.period_end} {o.course_code} "
            f"{o.course_name} {o.classes}: {statuses.get(o.status, o.status)}"
        )
    if len(result.observed) > limit:
        lines.append(f"    … and {len(result.observed) - limit} more")
    for code, n in sorted(result.skipped_archived.items()):
        lines.append(f"  {n} rows of the archived semester {code} skipped (its timetable cannot change)")
    if result.nothing_to_do:
        lines.append("  nothing to change: the timetable already matches the file")
    return lines
