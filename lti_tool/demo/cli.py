"""``tingke demo``: build (or refresh) the demo college and say whom to launch as."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, pass_ctx
from lti_tool.demo.services import DEFAULT_CODE, DEFAULT_SEED, DemoService
from lti_tool.lti.keys import KeyService
from lti_tool.notifications.delivery import deliver_due


def register(cli: click.Group) -> None:
    @cli.command("demo")
    @click.option(
        "--institution",
        "institution_code",
        default=DEFAULT_CODE,
        show_default=True,
        help="Institution code of the demo college (created when missing).",
    )
    @click.option("--name", default=None, help="The institution's name (default: the demo college's).")
    @click.option(
        "--seed",
        default=DEFAULT_SEED,
        show_default=True,
        type=int,
        help="Random seed: the same seed gives the same people, timetable and records.",
    )
    @click.option(
        "--reset", is_flag=True, help="Delete the institution's records first and generate them again."
    )
    @pass_ctx
    @guarded
    def demo(ctx: CliContext, institution_code: str, name: str | None, seed: int, reset: bool) -> None:
        """Build a realistic demo college: roster, timetable and a semester of observation records.

        Safe to run again: imports update in place and records are generated only for a semester that
        has none. The generated import files are written to INSTANCE/demo/ as examples.
        """
        from lti_tool.migrate import upgrade

        ctx.settings.instance_path.mkdir(parents=True, exist_ok=True)
        upgrade(ctx.settings.database_url)
        out_dir = ctx.settings.instance_path / "demo"
        with ctx.session() as s:
            KeyService(s).ensure_key()  # so a fresh install can launch right away (as `tingke init` does)
            summary = DemoService(
                s, institution_code=institution_code, institution_name=name, seed=seed
            ).build(out_dir=out_dir, reset=reset)
            s.commit()
            sent = deliver_due(s, ctx.settings)  # the demo's e-mails land in the outbox folder now
        if sent:
            click.echo(f"  notifications delivered: {sent} (outbox: {ctx.settings.outbox_path})")
        click.echo(f"Demo college {summary.institution_code}: {summary.institution_name}")
        for line in summary.steps:
            click.echo(f"  {line}")
        for code, counts in summary.generated.items():
            click.echo(
                f"  records {code}: {counts.observations} observations ({counts.submitted} submitted, "
                f"{counts.drafts} drafts, {counts.group} group), {counts.replies} teacher replies, "
                f"{counts.patrols} patrols, {counts.problems} problems"
            )
        click.echo("Semesters:")
        for line in summary.semesters:
            click.echo(f"  {line}")
        click.echo("Totals: " + ", ".join(f"{v} {k}" for k, v in summary.counts.items()))
        names = ", ".join(path.name for path in summary.files if path.suffix == ".csv")
        click.echo(f"Example import files: {out_dir}/ ({names})")
        click.echo("")
        click.echo("Try launching as (Moodle user idnumber = 工号, or the e-mail):")
        for person in summary.showcase:
            click.echo(f"  {person.employee_no}  {person.name:<4}  {person.email:<36} {person.role}")
        click.echo("")
        click.echo(
            "The demo LMS (scripts/run.sh starts it) launches any of them from its course page. To use your "
            f"own LMS, register it for institution {summary.institution_code} "
            f"(`tingke platform add --institution {summary.institution_code} …`, see README), "
            f"then launch the tool from a course as one of the users above."
        )

    @cli.command("demo-lms")
    @click.option(
        "--institution",
        "institution_code",
        default=DEFAULT_CODE,
        show_default=True,
        help="The demo institution the LMS is registered for.",
    )
    @click.option("--port", default=5001, show_default=True, type=int, help="Port on 127.0.0.1.")
    @pass_ctx
    @guarded
    def demo_lms(ctx: CliContext, institution_code: str, port: int) -> None:
        """Run a small demo LMS on 127.0.0.1 (a real LTI 1.3 platform; never in production).

        Its course page embeds Tingke in an iframe and launches any demo person through the real OIDC
        flow. It registers itself as a platform of the demo institution first.
        """
        from werkzeug.serving import make_server

        from lti_tool.demo.lms import DemoLms

        base = f"http://127.0.0.1:{port}"
        factory = ctx.session_factory()  # first: it resolves the instance secret into ctx.settings
        lms = DemoLms(ctx.settings, factory, institution_code, base)
        lms.register()
        server = make_server("127.0.0.1", port, lms, threaded=True)
        click.echo(f"==> demo LMS at {base}/  (a course page with Tingke inside; demo only)")
        server.serve_forever()
