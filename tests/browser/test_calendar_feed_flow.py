"""My calendar in Chromium, inside the LMS's iframe with third-party cookies blocked (issue 15 item 5).

A school leader rostered for this week's reception opens "我的日历" from the navigation on a 390×844 phone:
the address fits the phone, the copy button answers (copied, or "copy it by hand" where the iframe may not
write the clipboard), the address serves a calendar with the week in it; he makes a new address after
ticking the confirmation, and the old address then answers 404. The same page at desktop width.

Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from lti_tool import clock
from lti_tool.outreach.reception import ReceptionService
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from tests.browser.conftest import LmsBrowser
from tests.browser.test_contacts_flow import DESKTOP, PHONE, assert_fits, phone_sized
from tests.browser.test_contacts_flow import new_lms as new_lms_fixture  # noqa: F401 (the fixture)
from tests.browser.test_observation_flow import go, snap
from tests.support import factories as f
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def open_lms(new_lms_fixture: Callable[..., LmsBrowser]) -> Callable[..., LmsBrowser]:  # noqa: F811
    """A browser context of a given size, third-party cookies blocked (tests/browser/test_contacts_flow)."""
    return new_lms_fixture


@pytest.fixture
def leader(roster: Roster, session_factory: Any, institution_id: int) -> Any:
    user = roster.person("100002", "王副校长", positions=("vp_teaching",))
    with session_factory.begin() as s:
        today = clock.today(s.get(Institution, institution_id))
        monday = today - dt.timedelta(days=today.weekday())
        semester = f.semester(s, institution_id, "2026-2027-1", week1_monday=monday - dt.timedelta(weeks=5))
        policy = PolicyStore(s, institution_id).current()
        person = ReceptionService(s, institution_id, policy).leaders(semester)[0]
        ReceptionService(s, institution_id, policy).assign(semester, 6, person.id, "行政楼201")
    return user


def _address(lms: LmsBrowser) -> str:
    return str(lms.frame.locator("#feed-url").input_value())


def _feed(lms: LmsBrowser, url: str) -> Any:
    """Fetch the address as a calendar client would: a plain request, no cookie, no token."""
    return lms.page.context.request.get(url, headers={"Cookie": ""})


def test_a_leader_subscribes_and_resets_on_a_phone(
    open_lms: Callable[..., LmsBrowser],
    leader: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    phone = open_lms(PHONE)
    phone.open_course(leader)
    phone_sized(phone)
    fr = phone.frame
    go(phone, lambda: fr.locator("nav.mainnav a", has_text="我的日历").click(), r"/my-calendar")
    expect(fr.locator("h1")).to_have_text("我的日历")
    assert_fits(phone, "my calendar")
    url = _address(phone)
    assert url.endswith(".ics") and "s=" not in url
    fr.locator("button[data-copy]").click()
    expect(fr.locator("[data-copy-status]")).to_have_text(re.compile("已复制。|请选中地址后手动复制。"))
    snap(phone, artifact_path("calendar-390.png"))

    response = _feed(phone, url)
    assert response.status == 200 and response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.body()).walk("VEVENT")
    (week,) = [e for e in events if str(e["UID"]).startswith("reception-")]
    assert str(week["SUMMARY"]) == "校领导接待日值班（第 6 周）" and str(week["LOCATION"]) == "行政楼201"

    # a new address: the box must be ticked first (the browser refuses the form without it)
    fr.locator("form[action*='/my-calendar/reset'] button[type=submit]").click()
    assert _address(phone) == url
    fr.locator("input[name=understood]").check()
    go(
        phone,
        lambda: fr.locator("form[action*='/my-calendar/reset'] button[type=submit]").click(),
        r"/my-calendar",
    )
    expect(fr.locator(".flash")).to_contain_text("旧地址已失效")
    assert_fits(phone, "my calendar after a reset")
    new = _address(phone)
    assert new != url
    assert _feed(phone, url).status == 404
    assert _feed(phone, new).status == 200
    snap(phone, artifact_path("calendar-reset-390.png"))


def test_my_calendar_at_desktop_width(
    open_lms: Callable[..., LmsBrowser],
    leader: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    desk = open_lms(DESKTOP)
    desk.open_course(leader)
    fr = desk.frame
    go(desk, lambda: fr.locator("nav.mainnav a", has_text="我的日历").click(), r"/my-calendar")
    expect(fr.locator("h1")).to_have_text("我的日历")
    box = fr.locator("#feed-url").bounding_box()
    button = fr.locator("button[data-copy]").bounding_box()
    assert box and button and abs(box["y"] - button["y"]) < 10  # the address and its button on one line
    snap(desk, artifact_path("calendar-1280.png"))
