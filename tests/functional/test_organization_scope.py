"""The organization department's scope is what its job needs (issue 13 §7): compliance, the reports and
the cadre file — not other people's personal observation archives."""

from __future__ import annotations

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
        for kind, person in ((ReportKind.PERSONAL_ARCHIVE, leader.id), (ReportKind.CADRE_EXCEL, None)):
            run = ReportRun(
                institution_id=institution_id, kind=kind, person_id=person, status=RunStatus.SUCCEEDED
            )
            s.add(run)
            s.flush()
            runs[kind] = run.id
    organization = launcher.launch(ORG)
    assert organization.get(client, f"/reports/runs/{runs[ReportKind.PERSONAL_ARCHIVE]}").status_code == 403
    assert organization.get(client, f"/reports/runs/{runs[ReportKind.CADRE_EXCEL]}").status_code == 200
    listing = organization.get(client, "/reports/").get_data(as_text=True)
    assert f"/reports/runs/{runs[ReportKind.CADRE_EXCEL]}" in listing
    assert f"/reports/runs/{runs[ReportKind.PERSONAL_ARCHIVE]}" not in listing
    # the quality center still opens it (control)
    quality = launcher.launch(QC)
    assert quality.get(client, f"/reports/runs/{runs[ReportKind.PERSONAL_ARCHIVE]}").status_code == 200
