"""``tingke import contact-points FILE`` and ``tingke import contacts FILE`` (CSV or XLSX, Chinese or English
headers); a bad row aborts the whole file, named by row and column."""

from __future__ import annotations

import click

from lti_tool.cli_support import CliContext, guarded, institution_option, pass_ctx, resolve_institution
from lti_tool.contacts.transfer import ContactTransfer
from lti_tool.directory.cli import import_group
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import read_file


def register(cli: click.Group) -> None:
    group = import_group(cli)

    @group.command("contact-points")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_contact_points(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Contact points (联系点): employee_no (工号), academic_year (学年, 2026-2027),
        kind (类型: college | teaching_office | lab | student_class | party_branch | dormitory | club |
        friend), target (对象), start (开始), end (结束).
        For each person and year in the file, its points replace the stored ones."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            policy = PolicyStore(s, inst.id).current()
            click.echo(f"contact points: {ContactTransfer(s, inst.id, policy).import_points(data, name)}")

    @group.command("contacts")
    @click.argument("file", type=click.Path(dir_okay=False))
    @institution_option
    @pass_ctx
    @guarded
    def import_contacts(ctx: CliContext, file: str, institution_code: str | None) -> None:
        """Contact records (联系记录): employee_no (工号, several separated by ;), date (日期),
        kind (类型: visit 调研指导 | work_report 听取汇报 | consultation 征求意见 |
        branch_activity 支部活动 | meeting 会议 | lecture 思政课 | symposium 座谈会 | talk 谈心谈话 |
        friend 联系交友 | retiree_briefing 离退休通报 | other 其他), target_kind (对象类型),
        target (对象), place (地点), participants (参加人数), content (内容), opinions (意见建议),
        status (状态: draft | submitted), branch_confirmed (支部确认: yes | no)."""
        data, name = read_file(file)
        with ctx.session() as s:
            inst = resolve_institution(s, institution_code)
            policy = PolicyStore(s, inst.id).current()
            click.echo(f"contact records: {ContactTransfer(s, inst.id, policy).import_records(data, name)}")
