"""``tingke platform registration-url``: the dynamic registration URL (with its key) for an institution.

The key keeps strangers from registering an LMS of their own for an institution (lti/registration.py),
so the server administrator reads the URL here and hands it to the LMS administrator.
"""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.lti.registration import RegistrationService


def register(cli: click.Group) -> None:
    group = cli.commands.get("platform")
    if not isinstance(group, click.Group):
        return

    @group.command("registration-url")
    @institution_option
    @pass_ctx
    @guarded
    def registration_url(ctx: CliContext, institution_code: str | None) -> None:
        """Print the URL to paste into Moodle's "Tool URL" (LTI Advantage dynamic registration)."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            click.echo(RegistrationService(s, ctx.settings).urls(inst.code)["registration_url"])
