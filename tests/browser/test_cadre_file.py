"""The annual cadre file (三个纳入, issue 12 item 6) walked in Debian's Chromium, launched from the LMS.

1. The organization department on a phone (390×844): its home page's cadre panel fits the phone; it chooses
   the academic year 2026-2027 and makes the Excel, then the calendar year 2026 and makes the PDF summary;
   the worker's job runs in-process and both files download from the run's page.
2. The school office at a desktop makes the same year's Excel from its home page's panel.

Screenshots and the downloaded files go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
import pytest

from tests.browser.test_contact_duties import (
    DESKTOP,
    PHONE,
    _build_and_download,
    fits_phone,
    new_lms,
    phone_sized,
    shot,
)
from tests.functional.reports.test_report import pdf_text
from tests.support.cadre_world import cadre_world
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def offices(roster: Roster, session_factory: Any, institution_id: int) -> dict[str, Any]:
    with session_factory.begin() as s:
        cadre_world(s, institution_id=institution_id)
    roster.unit("ZZB", "党委组织部", kind="department", function="organization")
    roster.unit("XB", "学校办公室", kind="department", function="school_office")
    return {
        "organization": roster.person("Z001", "组织部吴部长", unit="ZZB"),
        "office": roster.person("X001", "办公室李主任", unit="XB"),
    }


def _make(lms: Any, panel: str, period: str, kind: str) -> None:
    form = lms.frame.locator(f"{panel} form")
    form.locator("select[name=period]").select_option(period)
    with lms.frame.expect_navigation(url=re.compile(r"/reports/runs/\d+(\?|$)"), wait_until="load"):
        form.locator(f"button[value={kind}]").click()


def test_organization_on_a_phone_and_the_office_at_a_desk_download_the_cadre_file(  # type: ignore[no-untyped-def]
    browser, platform, live_server, offices, artifact_path, settings, session_factory
):
    phone = new_lms(browser, platform, live_server, PHONE)
    phone.open_course(offices["organization"])
    phone_sized(phone)
    panel = phone.frame.locator("#panel-cadres")
    expect(panel).to_contain_text("干部考核档案")
    expect(panel.locator("select[name=period] option")).to_have_count(4)
    fits_phone(phone, "the organization department's home page")
    shot(phone, artifact_path("org-home-phone.png"))

    _make(phone, "#panel-cadres", "ay:2026-2027", "cadre_file")
    fits_phone(phone, "the run's page")
    data = _build_and_download(
        phone, settings, session_factory, "org-excel-run-phone.png", artifact_path, magic=b"PK"
    )
    artifact_path("cadre-file-2026-2027.xlsx").write_bytes(data)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["汇总", "听课任务", "联系基层任务", "说明"]
    rows = list(book["汇总"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == ["'=1+2", "王副校长"] and rows[1][12] == 4  # four letters routed to 王

    phone.navigate(lambda: phone.frame.locator(".mainnav a").first.click(), "/home")
    _make(phone, "#panel-cadres", "cy:2026", "cadre_summary")
    pdf = _build_and_download(phone, settings, session_factory, "org-pdf-run-phone.png", artifact_path)
    artifact_path("cadre-summary-2026.pdf").write_bytes(pdf)
    text = pdf_text(pdf)
    assert "干部听课与联系基层履职情况汇总（2026年度）" in text and "2025-2026-2、2026-2027-1" in text
    phone.context.close()

    desk = new_lms(browser, platform, live_server, DESKTOP)
    desk.open_course(offices["office"])
    expect(desk.frame.locator("#panel-cadre-file")).to_contain_text("干部考核档案")
    shot(desk, artifact_path("office-home-desktop.png"))
    _make(desk, "#panel-cadre-file", "ay:2026-2027", "cadre_file")
    data = _build_and_download(
        desk, settings, session_factory, "office-excel-run-desktop.png", artifact_path, magic=b"PK"
    )
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames[0] == "汇总"
    desk.context.close()
