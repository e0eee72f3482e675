"""The ``tingke`` command: setup, registration, imports, the servers.

Each domain adds its commands in its own ``cli.py`` (``register(cli)``), with the shared plumbing of
``cli_support.py``; this module is the composition root on top of every layer. Every command opens one
transaction and commits only on success, so a failed import stores nothing. Errors are printed as a
person-readable message (with row and column for imports) and exit with status 2.
"""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import PROJECT_ROOT, acting
from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.config import Settings
from lti_tool.lti.keys import KeyService
from lti_tool.lti.registration import PlatformSpec, RegistrationService
from lti_tool.lti.secret import resolve_secret
from lti_tool.tenancy import Institution


class _TingkeGroup(click.Group):
    """Loads the domain command modules on first use, so that a command imports only what it runs."""

    _loaded = False

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True
            _register_domain_commands()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._ensure_loaded()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._ensure_loaded()
        return super().list_commands(ctx)


@click.group(cls=_TingkeGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Tingke (听课): the leadership class-observation LTI tool."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown user"
    token = acting.act_as(f"command line ({user})")
    click.get_current_context().call_on_close(lambda: acting.reset(token))
    if not isinstance(ctx.obj, CliContext):
        ctx.obj = CliContext()
    ctx.obj.secret_lookup = resolve_secret


# -- setup ------------------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Database schema (Alembic is the only way the schema changes)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(ctx: CliContext, revision: str) -> None:
    from lti_tool.migrate import upgrade

    ctx.settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@pass_ctx
def db_downgrade(ctx: CliContext, revision: str) -> None:
    from lti_tool.migrate import downgrade

    downgrade(ctx.settings.database_url, revision)
    click.echo(f"database downgraded to {revision}")


@cli.command()
@click.option("--institution", "institution_code", default=None, help="Also create this institution.")
@click.option("--name", default=None, help="The institution's name.")
@pass_ctx
@guarded
def init(ctx: CliContext, institution_code: str | None, name: str | None) -> None:
    """Create the schema, the tool's signing key and (optionally) a first institution."""
    from lti_tool.migrate import upgrade

    ctx.settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(ctx.settings.database_url)
    with ctx.session() as s:
        key = KeyService(s).ensure_key()
        click.echo(f"signing key kid={key.kid}")
        if institution_code:
            _add_institution(s, institution_code, name or institution_code)
        _print_urls(s, ctx.settings)


def _print_urls(session: Session, settings: Settings) -> None:
    """What an LMS administrator pastes into Moodle, per institution."""
    service = RegistrationService(session, settings)
    urls = service.urls()
    click.echo("LMS configuration (paste into Moodle):")
    for inst in session.scalars(select(Institution).order_by(Institution.code)):
        click.echo(f"  Dynamic registration URL ({inst.code}): {service.urls(inst.code)['registration_url']}")
    click.echo(f"  Tool URL / redirect URI:  {urls['tool_url']}")
    click.echo(f"  Initiate login URL:       {urls['login_url']}")
    click.echo(f"  Public keyset URL:        {urls['jwks_url']}")
    click.echo(f"  All values:               {settings.base_url}/lti/config")


def _add_institution(session: Session, code: str, name: str) -> Institution:
    inst = session.scalars(select(Institution).where(Institution.code == code)).first()
    if inst is None:
        inst = Institution(code=code, name=name)
        session.add(inst)
        session.flush()
        from lti_tool.policy.store import PolicyStore

        PolicyStore(session, inst.id).ensure_version()
        click.echo(f"institution {code} created")
    else:
        inst.name = name
        click.echo(f"institution {code} updated")
    return inst


@cli.group()
def institution() -> None:
    """Institutions (tenants)."""


@institution.command("add")
@click.argument("code")
@click.option("--name", required=True)
@pass_ctx
@guarded
def institution_add(ctx: CliContext, code: str, name: str) -> None:
    with ctx.session() as s:
        _add_institution(s, code, name)
        click.echo(
            f"dynamic registration URL: {RegistrationService(s, ctx.settings).urls(code)['registration_url']}"
        )


@institution.command("list")
@pass_ctx
def institution_list(ctx: CliContext) -> None:
    with ctx.session() as s:
        for inst in s.scalars(select(Institution).order_by(Institution.code)):
            click.echo(f"{inst.code}\t{inst.name}")


@cli.group()
def platform() -> None:
    """LMS platform registrations."""


@platform.command("add")
@institution_option
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True)
@click.option("--auth-url", required=True, help="The platform's OIDC authentication URL.")
@click.option("--token-url", required=True, help="The platform's OAuth2 access-token URL.")
@click.option("--jwks-url", required=True, help="The platform's public keyset URL.")
@click.option("--name", default="")
@click.option("--audience", default="", help="Token audience, when the platform needs one.")
@pass_ctx
@guarded
def platform_add(
    ctx: CliContext,
    institution_code: str | None,
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_url: str,
    token_url: str,
    jwks_url: str,
    name: str,
    audience: str,
) -> None:
    with ctx.session() as s:
        inst = resolve_institution(s, institution_code)
        p = RegistrationService(s, ctx.settings).add_platform(
            inst.code,
            PlatformSpec(
                issuer=issuer,
                client_id=client_id,
                deployment_ids=list(deployment_ids),
                auth_login_url=auth_url,
                auth_token_url=token_url,
                key_set_url=jwks_url,
                name=name,
                auth_audience=audience,
            ),
        )
        click.echo(
            f"platform {p.issuer} client {p.client_id} registered for {inst.code} "
            f"(deployments: {', '.join(d.deployment_id for d in p.deployments)})"
        )


@platform.command("list")
@pass_ctx
def platform_list(ctx: CliContext) -> None:
    from lti_tool.lti.models import Platform

    with ctx.session() as s:
        for p in s.scalars(select(Platform).order_by(Platform.id)):
            click.echo(
                f"{p.id}\t{p.issuer}\t{p.client_id}\t{','.join(d.deployment_id for d in p.deployments)}"
            )


@cli.group()
def keys() -> None:
    """The tool's signing keys (published at /.well-known/jwks.json)."""


@keys.command("add")
@pass_ctx
def keys_add(ctx: CliContext) -> None:
    with ctx.session() as s:
        click.echo(f"added key kid={KeyService(s).add().kid} (it signs from now on; old keys stay published)")


@keys.command("list")
@pass_ctx
def keys_list(ctx: CliContext) -> None:
    with ctx.session() as s:
        for k in KeyService(s).all():
            click.echo(f"{k.kid}\t{k.created_at:%Y-%m-%d %H:%M}")


@keys.command("remove")
@click.argument("kid")
@pass_ctx
@guarded
def keys_remove(ctx: CliContext, kid: str) -> None:
    with ctx.session() as s:
        KeyService(s).remove(kid)
        click.echo(f"removed key {kid}")


# -- servers ----------------------------------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option(
    "--workers", default=None, type=int, help="gunicorn processes (default: TINGKE_WEB_WORKERS, else 2)"
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the web app under gunicorn with the production settings (deploy/gunicorn.conf.py: gthread,
    TINGKE_WEB_WORKERS processes × TINGKE_WEB_THREADS threads; README "Production" says why)."""
    env = dict(os.environ, TINGKE_BIND=f"{host}:{port}")
    if workers is not None:
        env["TINGKE_WEB_WORKERS"] = str(workers)
    config = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
    os.execvpe(
        sys.executable,
        [sys.executable, "-m", "gunicorn", "--config", str(config), "lti_tool.wsgi:app"],
        env,
    )


@cli.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--with-scheduler/--without-scheduler", default=True)
def worker(burst: bool, with_scheduler: bool) -> None:
    """Run an RQ worker for Tingke's queues."""
    from worker.queues import run_worker

    run_worker(burst=burst, with_scheduler=with_scheduler)


def _register_domain_commands() -> None:
    from lti_tool.compliance import cli as compliance_cli
    from lti_tool.contacts import cli as contacts_cli
    from lti_tool.demo import cli as demo_cli
    from lti_tool.directory import cli as directory_cli
    from lti_tool.lti import cli as lti_cli
    from lti_tool.notifications import cli as notifications_cli
    from lti_tool.observations import cli as observations_cli
    from lti_tool.ops import cli as ops_cli
    from lti_tool.patrols import cli as patrols_cli
    from lti_tool.policy import cli as policy_cli
    from lti_tool.reports import cli as reports_cli
    from lti_tool.timetable import cli as timetable_cli

    for module in (
        lti_cli,
        directory_cli,
        timetable_cli,
        observations_cli,
        policy_cli,
        compliance_cli,
        reports_cli,
        patrols_cli,
        contacts_cli,
        notifications_cli,
        demo_cli,
        ops_cli,
    ):
        module.register(cli)


def main() -> None:
    cli(prog_name="tingke")
