"""``tingke policy show|upload|export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lti_tool.cli_support import CliContext, fail, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.policy.schema import PolicyError
from lti_tool.policy.store import PolicyStore

MAX_POLICY_BYTES = 256 * 1024


def register(cli: click.Group) -> None:
    @cli.group("policy")
    def policy() -> None:
        """The observation policy: positions, rules O-1 … O-10, 思政 course kinds, the record form."""

    @policy.command("show")
    @institution_option
    @pass_ctx
    @guarded
    def policy_show(ctx: CliContext, institution_code: str | None) -> None:
        """Summarise the current policy version."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            store = PolicyStore(s, inst.id)
            row = store.current_version()
            p = store.current()
            click.echo(f"{p.name}")
            click.echo(
                f"stored version: {row.number if row else '— (shipped default)'}  "
                f"file version: {p.version}  sha256: {p.sha256[:12]}"
            )
            click.echo("positions:")
            for code, pos in p.positions.items():
                click.echo(f"  {code:<24} {pos.name}  [{p.groups.get(pos.group, pos.group)}]")
            click.echo("rules:")
            for r in p.rules:
                params = [f"count={r.count}"] if r.kind in ("min_count", "per_month") else []
                params += [f"courses={r.courses}"] if r.courses else []
                params += ["include_supervision"] if r.include_supervision else []
                params += [f"activity={r.activity}"] if r.activity != "observation" else []
                params += [f"unit_kind={r.unit_kind}"] if r.unit_kind else []
                params += [f"target={r.target}"] if r.target is not None else []
                click.echo(f"  {r.id:<5} {r.kind:<16} {','.join(r.positions)}  {' '.join(params)}")
                click.echo(f"        {r.source}")
            click.echo(f"思政 course kinds: {'、'.join(sorted(p.ideological_course_kinds))}")
            click.echo(f"form dimensions: {'、'.join(d.label for d in p.dimensions)}")
            click.echo(f"rating scale: {'、'.join(c.label for c in p.scale)}")

    @policy.command("upload")
    @click.argument("file", type=click.Path(dir_okay=False, exists=True))
    @institution_option
    @pass_ctx
    @guarded
    def policy_upload(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Validate FILE and store it as the institution's new policy version (semesters already
        evaluated keep theirs)."""
        data = Path(file).read_bytes()
        if len(data) > MAX_POLICY_BYTES:
            fail(f"{file}: larger than {MAX_POLICY_BYTES // 1024} KiB; not a policy file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            fail(f"{file}: not UTF-8 text")
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            try:
                row = PolicyStore(s, inst.id).upload(text, None)
            except PolicyError as exc:
                fail(f"{file}: the policy file was not stored", exc.problems)
            click.echo(f"policy version {row.number} stored for {inst.code}")

    @policy.command("export")
    @click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Write to FILE.")
    @institution_option
    @pass_ctx
    @guarded
    def policy_export(ctx: CliContext, out: str | None, institution_code: str | None) -> None:
        """Print (or write) the current policy file, to edit and upload again."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            text = PolicyStore(s, inst.id).current().text
        if out:
            Path(out).write_text(text, encoding="utf-8")
            click.echo(f"written to {out}")
        else:
            sys.stdout.write(text)
