"""``tingke notifications channel NAME …`` and ``tingke notifications show``: the channels from the shell.

Secrets are read from an environment variable or a prompt, never from the command line (which other users
of the machine can see in the process list), and are never printed back.
"""

from __future__ import annotations

import os

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.notifications.delivery import deliver_due
from lti_tool.notifications.models import Channel
from lti_tool.notifications.services import NotificationService
from lti_tool.notifications.settings import CHANNEL_FIELDS, ChannelSettingsService


def _pick(given: str | None, stored: str) -> str:
    """An option given on the command line (even empty, to clear it) wins over the stored value."""
    return stored if given is None else given


def register(cli: click.Group) -> None:
    @cli.group("notifications")
    def notifications() -> None:
        """Notification channels of an institution (Moodle, 企业微信, 钉钉, e-mail)."""

    @notifications.command("channel")
    @click.argument("channel", type=click.Choice([c.value for c in Channel]))
    @click.option("--on/--off", "enabled", default=True, help="Send through this channel or not.")
    @click.option(
        "--base-url", default=None, help="Moodle's address; for 企业微信/钉钉 only a private server."
    )
    @click.option("--corpid", default=None, help="企业微信 CorpID.")
    @click.option("--agentid", default=None, help="企业微信 or 钉钉 application AgentId.")
    @click.option("--appkey", default=None, help="钉钉 AppKey.")
    @click.option(
        "--secret-env",
        default=None,
        help="Name of an environment variable holding the token or secret (else you are asked for it; "
        "press Enter to keep the stored one).",
    )
    @institution_option
    @pass_ctx
    @guarded
    def channel(
        ctx: CliContext,
        channel: str,
        enabled: bool,
        base_url: str | None,
        corpid: str | None,
        agentid: str | None,
        appkey: str | None,
        secret_env: str | None,
        institution_code: str | None,
    ) -> None:
        """Configure one channel: tingke notifications channel wecom --corpid … --agentid … ."""
        given: dict[str, str | None] = {
            "base_url": base_url,
            "corpid": corpid,
            "agentid": agentid,
            "appkey": appkey,
            "agent_id": agentid,
        }
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            service = ChannelSettingsService(s, inst.id)
            current = next(c for c in service.describe() if c.channel == channel)
            options = {k: _pick(given[k], current.options.get(k, "")) for k in CHANNEL_FIELDS[channel]}
            secret = ""
            if current.needs_secret:
                if secret_env:
                    secret = os.environ.get(secret_env, "")
                    if not secret:
                        raise click.UsageError(f"the environment variable {secret_env} is empty or not set")
                elif enabled:
                    secret = click.prompt(
                        "Secret (Enter keeps the stored one)", default="", hide_input=True, show_default=False
                    )
            row = service.save(channel, enabled=enabled, options=options, secret=secret)
            click.echo(f"{channel}: {'on' if row.enabled else 'off'} for {inst.code}")

    @notifications.command("send")
    @institution_option
    @pass_ctx
    @guarded
    def send(ctx: CliContext, institution_code: str | None) -> None:
        """Deliver the due notifications now, without a worker (one attempt each; failures are kept)."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            click.echo(f"sent: {deliver_due(s, ctx.settings, institution_id=inst.id)}")

    @notifications.command("show")
    @institution_option
    @pass_ctx
    @guarded
    def show(ctx: CliContext, institution_code: str | None) -> None:
        """The channels (secrets masked) and how many notifications were sent, wait or failed."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            for c in ChannelSettingsService(s, inst.id).describe():
                options = " ".join(f"{k}={v}" for k, v in c.options.items() if v)
                hint = f" secret={c.secret_hint}" if c.secret_hint else ""
                click.echo(f"{c.channel:9} {'on ' if c.enabled else 'off'} {options}{hint}".rstrip())
            counts = NotificationService(s, inst.id).counts()
            click.echo("notifications: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
