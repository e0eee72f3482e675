"""``tingke compliance``.

``compliance --json`` prints a list of objects, one per person and rule: employee_no, name, rule,
required, done, remaining, status ("ok" | "short" | "not_applicable"), missing (labels of the courses,
teachers or months still missing), plus the explanation, tenure windows and the partial-tenure flag.
Evaluating a semester for the first time stores the current policy version on it (the same as the
dashboard does), so later runs reproduce.
"""

from __future__ import annotations

import json

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.compliance.services import ComplianceService


def register(cli: click.Group) -> None:
    @cli.command("compliance")
    @click.option("--semester", "semester_code", required=True, help="Semester code, e.g. 2026-2027-1.")
    @institution_option
    @click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (a list of per-person-per-rule objects)."
    )
    @pass_ctx
    @guarded
    def compliance(ctx: CliContext, semester_code: str, institution_code: str | None, as_json: bool) -> None:
        """Compliance of every person with a duty in a semester, per rule (O-1 … O-10)."""
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            service = ComplianceService(s, inst.id)
            semester = service.semester_by_code(semester_code)
            report = service.evaluate(semester)
            if as_json:
                click.echo(json.dumps(report.to_list(), ensure_ascii=False, indent=2))
                return
            summary = report.summary
            rate = "—" if summary.rate_percent is None else f"{summary.rate_percent}%"
            click.echo(
                f"{report.semester_code}  {report.period.start} … {report.period.end}  "
                f"policy v{report.policy.version}"
            )
            click.echo(
                f"people with duties: {summary.persons}  compliant: {summary.compliant}  "
                f"short: {summary.short}  rate: {rate}  records: {service.record_count(semester)}"
            )
            for system, label in (
                ("observation", "observation duties (O-*)"),
                ("contact", "contact duties (C-*)"),
            ):
                part = report.system_summary(system)
                if part.persons:
                    part_rate = "—" if part.rate_percent is None else f"{part.rate_percent}%"
                    click.echo(
                        f"  {label}: people {part.persons}  compliant: {part.compliant}  "
                        f"short: {part.short}  rate: {part_rate}"
                    )
            for p in report.persons:
                flag = "" if p.compliant else "  ← short"
                click.echo(f"\n{p.employee_no}  {p.name}  {p.unit_name}{flag}")
                for r in p.results:
                    if r.informative and r.share is not None:
                        figure = f"{r.done}/{r.required} ({round(r.share * 100)}%)"
                    else:
                        figure = f"{r.done}/{r.required}"
                    partial = ""
                    if r.partial and r.windows:
                        partial = f"  [partial {r.windows[0].start}…{r.windows[-1].end}]"
                    click.echo(f"  {r.rule_id:<5} {r.status:<15} {figure:<14} {r.explanation_text}{partial}")
