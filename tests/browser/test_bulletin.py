"""The shortfall bulletin (C-7c) walked in Debian's Chromium, launched from the LMS into the iframe.

The school office at a desktop issues a numbered bulletin from the reports page (checkpoint: today), the
worker's job builds it (in-process), and the office downloads the PDF; the head of security it names, on a
phone, finds it on his home page with his own lines (no patrol, no symposium this semester). Screenshots go
to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pypdf
import pytest

from lti_tool import clock
from tests.browser.test_contact_duties import (
    DESKTOP,
    PHONE,
    _build_and_download,
    fits_phone,
    new_lms,
    open_path,
    phone_sized,
    shot,
)
from tests.support import factories
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def college(roster: Roster, session_factory: Any, institution_id: int) -> dict[str, Any]:
    """A semester running since the Monday before last; 王保卫 heads security (no patrol, no symposium)."""
    roster.unit("BW", "保卫处", kind="department")
    roster.unit("XB", "学校办公室", kind="department", function="school_office")
    leader = roster.person("B001", "王保卫", unit="BW", positions=("head_security",))
    office = roster.person("X001", "办公室李主任", unit="XB")
    day = clock.today()
    monday = day - dt.timedelta(days=day.weekday() + 7)
    with session_factory.begin() as s:
        factories.semester(
            s, institution_id, f"{monday.year}-{monday.year + 1}-1", week1_monday=monday, weeks=18
        )
    return {"leader": leader, "office": office}


def test_the_office_issues_a_bulletin_and_the_named_leader_reads_his_lines_on_a_phone(  # type: ignore[no-untyped-def]
    browser, platform, live_server, college, artifact_path, settings, session_factory
):
    desk = new_lms(browser, platform, live_server, DESKTOP)
    desk.open_course(college["office"])
    open_path(desk, "/reports/")
    form = desk.frame.locator("#issue-bulletin")
    expect(form).to_contain_text("印发通报")
    expect(form.locator("#as_of")).to_have_value(clock.today().isoformat())
    shot(desk, artifact_path("office-reports.png"))
    asked: list[str] = []
    # a numbered bulletin: asked first
    desk.page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    with desk.frame.expect_navigation(url=re.compile(r"/reports/runs/\d+")):
        form.locator("button[type=submit]").click()
    assert asked == ["印发下一号通报？被点名的领导干部将看到与本人有关的内容。"], asked
    data = _build_and_download(desk, settings, session_factory, "office-bulletin-run.png", artifact_path)
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages))
    assert f"〔{clock.today().year}〕1号" in text and "王保卫" in text and "召开师生员工座谈会" in text
    desk.context.close()

    phone = new_lms(browser, platform, live_server, PHONE)
    phone.open_course(college["leader"])
    phone_sized(phone)
    open_path(phone, "/home")
    panel = phone.frame.locator("#my-bulletins")
    expect(panel).to_contain_text("点名您的通报")
    expect(panel).to_contain_text(f"〔{clock.today().year}〕1号")
    expect(panel).to_contain_text("召开师生员工座谈会")
    expect(panel).to_contain_text("每月至少巡查1次")
    fits_phone(phone, "the leader's home page with the bulletin")
    panel.scroll_into_view_if_needed()
    shot(phone, artifact_path("leader-home-bulletin.png"))
    phone.context.close()
