"""``tingke import observations FILE``: historical (paper) observation records, the export's columns."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.directory.cli import import_group
from lti_tool.observations.transfer import ObservationTransfer
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import read_file


def register(cli: click.Group) -> None:
    group = import_group(cli)

    @group.command("observations")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_observations(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Observation records: observers (工号, ";" for a group), course_code, teacher_no, date, periods,
        status (draft | submitted), supervision (yes | no), then the record's fields (as the export)."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            policy = PolicyStore(s, inst.id).current()
            click.echo(f"observations: {ObservationTransfer(s, inst.id, policy).import_file(data, name)}")
