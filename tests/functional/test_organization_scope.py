"""The organization department's scope is what its job needs (issue 13 §7): compliance, the reports and
the cadre file — not other people's personal archives (observation and contact) nor the problems raised in
records with their handling notes, unless the policy file grants it (``organization_reads_personal_files``,
default no)."""

from __future__ import annotations

import re

import pytest

from lti_tool.policy.schema import PolicyError, default_policy, default_policy_text, parse_policy
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem, ProblemEvent
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.services import ReportKind
from tests.support import factories as f
from tests.support.launch import Launcher
from tests.support.platform import ROLE_LEARNER, LmsUser

ORG = LmsUser("org-1", "组织部", "org@jti.edu.cn", "Z001", [ROLE_LEARNER])
QC = LmsUser("qc-1", "质控中心", "qc@jti.edu.cn", "Q001", [ROLE_LEARNER])


def test_organization_cannot_open_or_list_another_persons_archive(
    launcher: Launcher, client, session_factory, institution_id
) -> None:
    with session_factory.begin() as s:
        org = f.unit(s, institution_id, "党委组织部", kind="department", code="ZZB", function="organization")
        qc = f.unit(s, institution_id, "质控中心", kind="department", code="ZK", function="quality_center")
        f.person(s, institution_id, "组织部", employee_no="Z001", unit=org)
        f.person(s, institution_id, "质控中心", employee_no="Q001", unit=qc)
        leader = f.person(s, institution_id, "王院长", employee_no="L001")
        runs = {}
        for kind, person in ((ReportKind.PERSONAL_ARCHIVE, leader.id), (ReportKind.CADRE_FILE, None)):
            run = ReportRun(
                institution_id=institution_id, kind=kind, person_id=person, status=RunStatus.SUCCEEDED
            )
            s.add(run)
            s.flush()
            runs[kind] = run.id
    organization = launcher.launch(ORG)
    assert organization.get(client, f"/reports/runs/{runs[ReportKind.PERSONAL_ARCHIVE]}").status_code == 403
    assert organization.get(client, f"/reports/runs/{runs[ReportKind.CADRE_FILE]}").status_code == 200
    listing = organization.get(client, "/reports/").get_data(as_text=True)
    assert f"/reports/runs/{runs[ReportKind.CADRE_FILE]}" in listing
    assert f"/reports/runs/{runs[ReportKind.PERSONAL_ARCHIVE]}" not in listing
    # the quality center still opens it (control)
    quality = launcher.launch(QC)
    assert quality.get(client, f"/reports/runs/{runs[ReportKind.PERSONAL_ARCHIVE]}").status_code == 200


GRANTED = "organization_reads_personal_files = true"


def _world(session_factory, institution_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        org = f.unit(s, institution_id, "党委组织部", kind="department", code="ZZB", function="organization")
        qc = f.unit(s, institution_id, "质控中心", kind="department", code="ZK", function="quality_center")
        hq = f.unit(s, institution_id, "后勤处", kind="department", code="HQ")
        f.person(s, institution_id, "组织部", employee_no="Z001", unit=org)
        f.person(s, institution_id, "质控中心", employee_no="Q001", unit=qc)
        leader = f.person(s, institution_id, "王院长", employee_no="L001")
        problem = Problem(
            institution_id=institution_id,
            raised_by_id=leader.id,
            unit_id=hq.id,
            category="facility",
            description="投影仪不亮",
        )
        problem.events.append(ProblemEvent(status="accepted", note="处理说明：下周更换"))
        s.add(problem)
        archive = ReportRun(
            institution_id=institution_id,
            kind=ReportKind.CONTACT_ARCHIVE,
            person_id=leader.id,
            status=RunStatus.SUCCEEDED,
        )
        s.add(archive)
        s.flush()
        return {"leader": leader.id, "problem": problem.id, "archive": archive.id}


def _grant(session_factory, institution_id: int) -> None:  # type: ignore[no-untyped-def]
    text = default_policy_text().replace("organization_reads_personal_files = false", GRANTED)
    assert GRANTED in text
    with session_factory.begin() as s:
        PolicyStore(s, institution_id).upload(text, None)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_policy_key_is_documented_defaults_to_no_and_must_be_a_yes_or_no() -> None:
    assert default_policy().organization_reads_personal_files is False
    assert "organization_reads_personal_files = false" in default_policy_text()
    text = default_policy_text().replace("organization_reads_personal_files = false", "")
    assert parse_policy(text).organization_reads_personal_files is False  # absent: no
    with pytest.raises(PolicyError, match="organization_reads_personal_files"):
        parse_policy(
            default_policy_text().replace(
                "organization_reads_personal_files = false",
                'x = 1\norganization_reads_personal_files = "yes"',
            )
        )


def test_organization_reads_no_problem_handling_notes_unless_the_policy_grants_it(
    launcher: Launcher, client, session_factory, institution_id
) -> None:
    w = _world(session_factory, institution_id)
    organization = launcher.launch(ORG)
    for path in ("/problems/", f"/problems/{w['problem']}"):
        response = organization.get(client, path)
        assert response.status_code == 403, path
        assert "处理说明" not in response.get_data(as_text=True)
    # a problem id that does not exist answers the same: nothing is learnt before the refusal
    assert organization.get(client, "/problems/99999").status_code == 403
    quality = launcher.launch(QC)  # control: the quality center reads them
    assert "处理说明" in quality.get(client, f"/problems/{w['problem']}").get_data(as_text=True)
    _grant(session_factory, institution_id)
    organization = launcher.launch(ORG)
    granted = organization.get(client, f"/problems/{w['problem']}")
    assert granted.status_code == 200 and "处理说明" in granted.get_data(as_text=True)


def test_organization_neither_opens_nor_builds_another_persons_contact_archive_unless_granted(
    launcher: Launcher, client, session_factory, institution_id
) -> None:
    w = _world(session_factory, institution_id)
    organization = launcher.launch(ORG)
    assert organization.get(client, f"/reports/runs/{w['archive']}").status_code == 403
    listing = organization.get(client, "/reports/").get_data(as_text=True)
    assert f"/reports/runs/{w['archive']}" not in listing
    start = client.post(
        f"/reports/start?s={organization.token}",
        data={"csrf": _csrf(listing), "kind": "contact_archive", "person_id": w["leader"]},
    )
    assert start.status_code == 403
    _grant(session_factory, institution_id)
    organization = launcher.launch(ORG)
    assert organization.get(client, f"/reports/runs/{w['archive']}").status_code == 200
    assert f"/reports/runs/{w['archive']}" in organization.get(client, "/reports/").get_data(as_text=True)
