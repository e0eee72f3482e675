"""``tingke import patrols FILE``."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.directory.cli import import_group
from lti_tool.patrols.services import PatrolService
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import read_file


def register(cli: click.Group) -> None:
    @import_group(cli).command("patrols")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_patrols(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Past paper patrols: employee_no, date, rooms, checked (;), notes, problem_category, problem_unit,
        problem_room, problem_description (one problem per row)."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            service = PatrolService(s, inst.id, PolicyStore(s, inst.id).current())
            click.echo(f"patrols: created {service.import_file(data, name)}")
