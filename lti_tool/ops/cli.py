"""``tingke check``, ``tingke backup``, ``tingke restore``, ``tingke institution import``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lti_tool.cli_support import CliContext, guarded, pass_ctx
from lti_tool.db import make_engine


def register(cli: click.Group) -> None:
    cli.add_command(check)
    cli.add_command(backup_command)
    cli.add_command(restore_command)
    institution = cli.commands.get("institution")
    assert isinstance(institution, click.Group)
    institution.add_command(institution_import)


@click.command()
@click.option("--only", default="", help="Comma-separated checks to run (e.g. database,migrations).")
@pass_ctx
def check(ctx: CliContext, only: str) -> None:
    """The doctor: database, migrations, Redis, signing keys, secret, PDF fonts, base URL."""
    from lti_tool.ops.checks import doctor

    engine = make_engine(ctx.settings.database_url)
    try:
        findings = doctor(ctx.settings, engine)
    finally:
        engine.dispose()
    if only:
        wanted = {name.strip() for name in only.split(",")}
        findings = [f for f in findings if f.name in wanted]
    for f in findings:
        mark = click.style("ok  ", fg="green") if f.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {f.name}: {f.message}")
    faults = [f for f in findings if not f.ok]
    if faults:
        click.echo(f"{len(faults)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo("Everything Tingke needs is in place.")


@click.command("backup")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Archive to write."
)
@pass_ctx
@guarded
def backup_command(ctx: CliContext, out: Path) -> None:
    """Write a backup archive: the database dump, the configured secret, the mail outbox."""
    from lti_tool.ops.backup import backup

    summary = backup(ctx.settings, out)
    secret = "included" if summary.secret_included else "in the database"
    click.echo(
        f"backup {summary.path} ({summary.size // 1024} KiB): {summary.database} at "
        f"{', '.join(summary.revisions)}; secret {secret}; {summary.outbox_files} outbox file(s)"
    )


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@guarded
def restore_command(ctx: CliContext, archive: Path) -> None:
    """Restore a backup into TINGKE_DATABASE_URL (an empty database) and migrate it to this code's head."""
    from lti_tool.ops.backup import restore

    summary = restore(ctx.settings, archive)
    click.echo(
        f"restored {summary.database} database ({', '.join(summary.revisions_before)} → "
        f"{', '.join(summary.revisions_after)}); secret: {summary.secret}; "
        f"{summary.outbox_files} outbox file(s)"
    )
    click.echo("Next: `tingke check`, then start the web app and the workers.")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; store nothing.")
@pass_ctx
@guarded
def institution_import(ctx: CliContext, file: str, dry_run: bool) -> None:
    """Register institutions and their LMS platforms from a CSV or XLSX file (one row per platform)."""
    from lti_tool.ops.institutions import InstitutionImport
    from lti_tool.tabular import read_file

    data, name = read_file(file)
    with ctx.session() as s:
        service = InstitutionImport(s, ctx.settings)
        plan = service.plan(data, name)
        click.echo(
            f"{len(plan.new_institutions)} new institution(s), {len(plan.updated_institutions)} updated; "
            f"{plan.new_platforms} new platform(s), {plan.updated_platforms} updated"
        )
        if dry_run:
            s.rollback()
            click.echo("dry run: nothing stored")
            return
        service.apply(plan)
    click.echo("imported")
