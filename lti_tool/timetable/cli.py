"""``tingke semester add|list`` and ``tingke import periods|timetable``."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.directory.cli import import_group
from lti_tool.tabular import read_file
from lti_tool.timetable.importer import TimetableImporter
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
    @institution_option
    @pass_ctx
    @guarded
    def import_timetable(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Timetable export: semester, course_code, course_name, course_kind, offering unit, teacher_no (;),
        classes (;), student unit, weekday, periods, weeks, room, full_time (English or Chinese headers)."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            click.echo(f"timetable: {TimetableImporter(s, inst.id).import_file(data, name)}")
