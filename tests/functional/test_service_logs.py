"""Services leave one log line with the institution and the actor (docs/decisions.md O-1): a refused
launch, an import, a policy upload, a semester closed and reopened, a failed job."""

from __future__ import annotations

import logging
import re

import pytest

from lti_tool import acting
from lti_tool.policy.schema import default_policy_text
from lti_tool.policy.store import PolicyStore
from lti_tool.reports.models import ReportRun
from lti_tool.reports.services import RunProgress
from tests.support import factories as f
from tests.support.cli import cli_runner
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_a_refused_launch_names_the_institution_the_platform_and_the_reason(  # type: ignore[no-untyped-def]
    caplog, launcher, platform, client, institution_id
):
    caplog.set_level(logging.WARNING, logger="lti_tool.lti.services")
    user = LmsUser("u-7", "王老师", "", "1001", [ROLE_INSTRUCTOR])
    auth = launcher.login(user)
    body = platform.claims(user, auth["nonce"], sub="u-7")
    body["nonce"] = "nonce-from-elsewhere"
    assert launcher.post_launch(platform.sign(body), auth["state"]).status_code == 400
    (line,) = _lines(caplog, "lti_tool.lti.services")
    assert line.startswith(f"launch refused for institution {institution_id} (issuer ")
    assert "LMS user 'u-7'" in line and "nonce does not match its login request" in line


def test_an_unknown_platform_is_logged_as_such(caplog, client) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="lti_tool.lti.services")
    params = {
        "iss": "https://evil.example",
        "login_hint": "x",
        "target_link_uri": "http://localhost/lti/launch",
    }
    assert client.post("/lti/login", data=params).status_code == 400
    (line,) = _lines(caplog, "lti_tool.lti.services")
    assert "login refused for institution unknown (issuer 'https://evil.example'" in line


def test_imports_from_the_command_line_are_logged_with_their_result_or_refusal(  # type: ignore[no-untyped-def]
    caplog, monkeypatch, database_url, tmp_path
):
    caplog.set_level(logging.INFO, logger="lti_tool.directory.services")
    run = cli_runner(monkeypatch, database_url, tmp_path / "instance")
    monkeypatch.setenv("USER", "registrar")
    assert run("institution", "add", "LOG", "--name", "日志学院").exit_code == 0
    good = tmp_path / "units.csv"
    good.write_text("code,name,kind,function\nTR,交通运输学院,college,\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,kind,function\nXX,某单位,faculty,\n", encoding="utf-8")
    assert run("import", "units", str(good)).exit_code == 0
    assert run("import", "units", str(bad)).exit_code == 2
    imported, refused = _lines(caplog, "lti_tool.directory.services")
    assert re.fullmatch(
        r"units imported from 'units.csv' for institution \d+ by command line \(registrar\): "
        r"created 1, updated 0, unchanged 0",
        imported,
    )
    assert re.match(
        r"units import of 'bad.csv' for institution \d+ by command line \(registrar\) refused", refused
    )
    assert acting.who() == acting.NOBODY  # the command's label ends with it


def test_a_semester_closed_and_reopened_through_the_pages_names_the_person(  # type: ignore[no-untyped-def]
    caplog, session_factory, institution_id, launcher, client, monkeypatch
):
    with session_factory.begin() as s:
        qc_unit = f.unit(s, institution_id, "质量中心", kind="department", function="quality_center")
        qc_id = f.person(s, institution_id, "质量中心", employee_no="QC1", unit=qc_unit).id
        semester = f.semester(s, institution_id, "2026-2027-1")
    monkeypatch.setattr("lti_tool.reports.services.enqueue_run", lambda run_id, connection, **_: "job")
    caplog.set_level(logging.INFO, logger="lti_tool.archive.services")
    qc = launcher.launch(LmsUser("qc", "质量中心", "", "QC1", [ROLE_INSTRUCTOR]))
    csrf = re.search(r'name="csrf" value="([^"]+)"', qc.get(client, "/archive/").get_data(as_text=True))
    # Closing before the last teaching day needs the code typed (the close page's confirmation).
    data = {"csrf": csrf.group(1), "reason": "更正一条记录", "confirm": "2026-2027-1"}  # type: ignore[union-attr]
    assert client.post(f"/archive/{semester.id}/close?s={qc.token}", data=data).status_code == 303
    assert client.post(f"/archive/{semester.id}/reopen?s={qc.token}", data=data).status_code == 303
    closed, reopened = _lines(caplog, "lti_tool.archive.services")
    who = f"by person {qc_id} as quality_center (platform "
    assert closed.startswith(
        f"semester 2026-2027-1 of institution {institution_id} closed (archive version 1) {who}"
    )
    assert reopened.startswith(f"semester 2026-2027-1 of institution {institution_id} reopened {who}")
    assert reopened.endswith("): 更正一条记录")
    assert acting.who() == acting.NOBODY  # reset when the request ended


def test_a_policy_upload_and_a_failed_job_are_logged(caplog, db_session, institution_id) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    with acting.acting_as("person 7 as quality_center"):
        row = PolicyStore(db_session, institution_id).upload(default_policy_text(), None)
    assert f"policy version {row.number} (" in _lines(caplog, "lti_tool.policy.store")[-1]
    assert _lines(caplog, "lti_tool.policy.store")[-1].endswith(
        f"stored for institution {institution_id} by person 7 as quality_center"
    )
    run = ReportRun(institution_id=institution_id, kind="statistics", requested_by_id=None)
    db_session.add(run)
    db_session.commit()
    progress = RunProgress(db_session, run.id)
    progress.start()
    progress.fail("RuntimeError: no fonts\nTraceback …", will_retry=False)
    (line,) = _lines(caplog, "lti_tool.reports.services")
    assert line == (
        f"report run {run.id} (statistics) of institution {institution_id}, requested by person None, "
        "failed: RuntimeError: no fonts"
    )
