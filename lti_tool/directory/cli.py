"""``tingke import units|people|classes`` and ``tingke users unmatched|link``."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.directory.identity import IdentityService
from lti_tool.directory.services import DirectoryService
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import read_file


def import_group(cli: click.Group) -> click.Group:
    """The shared ``tingke import`` group; each domain adds its own file kinds to it."""
    existing = cli.commands.get("import")
    if isinstance(existing, click.Group):
        return existing

    @cli.group("import")
    def import_() -> None:
        """Import CSV or XLSX files (English or Chinese headers); a bad row aborts the whole file."""

    return import_


def register(cli: click.Group) -> None:
    group = import_group(cli)

    @group.command("units")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_units(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Units: code, name, kind (college | marxism_school | department | teaching_office | lab |
        party_branch) [, function, parent (上级单位), branch_kind (teacher | student)]."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            click.echo(f"units: {DirectoryService(s, inst.id).import_units(data, name)}")

    @group.command("people")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_people(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """People: employee_no, name, email, unit, positions (;), tenure_start, tenure_end, party_member
        (政治面貌), branch (所在支部)."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            policy = PolicyStore(s, inst.id).current()
            click.echo(f"people: {DirectoryService(s, inst.id).import_people(data, name, policy)}")

    @group.command("classes")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_classes(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Student classes: name (班级, as in the timetable), unit (学院)."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            click.echo(f"classes: {DirectoryService(s, inst.id).import_classes(data, name)}")

    @cli.group()
    def users() -> None:
        """LMS users and their link to the roster."""

    @users.command("unmatched")
    @institution_option
    @pass_ctx
    def users_unmatched(ctx: CliContext, institution_code: str | None) -> None:
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            for u in IdentityService(s, inst.id).unmatched():
                click.echo(f"{u.id}\t{u.name}\t{u.email}\t{u.sourcedid}")

    @users.command("link")
    @click.argument("platform_user_id", type=int)
    @click.argument("employee_no")
    @institution_option
    @pass_ctx
    @guarded
    def users_link(
        ctx: CliContext, platform_user_id: int, employee_no: str, institution_code: str | None
    ) -> None:
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            IdentityService(s, inst.id).link(platform_user_id, employee_no)
            click.echo(f"linked LMS user {platform_user_id} to {employee_no}")
