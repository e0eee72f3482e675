"""Issue 2 §7: Tingke launched into an LMS iframe in Debian's Chromium, third-party cookies blocked.

The LMS page (simulator, http://127.0.0.1) frames the tool (http://localhost): the OIDC login, the
launch and every later page run as a third party. The state check relies on a partitioned cookie plus
the server-side LoginState; after the launch the session lives in a partitioned cookie (and, where a
browser keeps none, in short-lived tokens in the page: tests/functional/test_session_transport.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from lti_tool.web import SESSION_COOKIE
from tests.browser.conftest import LmsBrowser, third_party_cookies_seen
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


def test_fresh_chromium_profile_blocks_third_party_cookies_but_keeps_partitioned(
    context, platform, cookie_probe
):  # type: ignore[no-untyped-def]
    """The premise of every test here: an ordinary SameSite=None cookie set by the tool's site inside
    the LMS's iframe is not sent back; a partitioned (CHIPS) one is."""
    seen = third_party_cookies_seen(context, platform, cookie_probe).split()
    assert "plain3p" not in seen
    assert "chips3p" in seen


def _tool_cookies(context: Any) -> list[dict]:
    return [c for c in context.cookies() if c["domain"].lstrip(".") == "localhost"]


def test_observer_launches_in_iframe_and_switches_language(
    third_party_cookies_blocked, lms: LmsBrowser, roster: Roster, artifact_path, platform
):  # type: ignore[no-untyped-def]
    user = roster.person("1001", "王校长", positions=("school_leader",))
    frame = lms.open_course(user)

    text = lms.text()
    assert "王校长" in text and "O-1" in text, text
    assert frame.locator("html").get_attribute("lang") == "zh-CN"
    assert "2024年9月1日" in text  # dates follow the locale
    # The launch could only pass its state check through the partitioned (CHIPS) state cookie — this
    # browser drops unpartitioned third-party cookies — and it deleted that cookie once used; the session
    # lives in the partitioned session cookie (test_session_cookie.py). Every cookie is partitioned.
    cookies = _tool_cookies(lms.context)
    lms_site = platform.base.rsplit(":", 1)[0]  # http://127.0.0.1 (a site has no port)
    assert all(c.get("partitionKey") == lms_site for c in cookies), cookies
    assert SESSION_COOKIE in {c["name"] for c in cookies}, cookies
    lms.page.screenshot(path=str(artifact_path("course-zh.png")), full_page=True)

    # A form submission inside the iframe: the language switch (POST with CSRF field and the token in
    # the action URL, then a 303 back to the page it came from).
    lms.navigate(frame.get_by_role("button", name="English").click, "/home")
    assert frame.locator("html").get_attribute("lang") == "en"
    assert frame.get_by_role("button", name="中文").is_visible()
    text = lms.text()
    assert "O-1" in text and "Sep 1, 2024" in text, text
    lms.page.screenshot(path=str(artifact_path("course-en.png")), full_page=True)


def test_persona_switch_in_iframe(third_party_cookies_blocked, lms: LmsBrowser, roster: Roster):  # type: ignore[no-untyped-def]
    """Someone in the quality center who also holds an observing position starts as quality center and
    switches to observer through the header's select (app.js submits the form on change)."""
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    user = roster.person("2001", "李主任", positions=("head_quality_center",), unit="QC")
    frame = lms.open_course(user)
    select = frame.locator("select#persona")
    assert select.input_value() == "quality_center"
    assert "O-7" not in lms.text()

    lms.navigate(lambda: select.select_option("observer"), "/home")
    assert "O-7" in lms.text()
    assert frame.locator("select#persona").input_value() == "observer"


def test_learner_gets_the_polite_page_in_iframe(third_party_cookies_blocked, lms: LmsBrowser, roster: Roster):  # type: ignore[no-untyped-def]
    lms.open_course(roster.learner())
    text = lms.text()
    assert "students" in text or "学生" in text, text
    # No data and no role to switch to: only the page's own text (and the language switch).
    assert lms.frame.locator("table").count() == 0
    assert lms.frame.locator("select#persona").count() == 0
    assert "O-" not in text


def test_home_fits_a_phone_without_horizontal_scrolling(
    third_party_cookies_blocked, lms: LmsBrowser, roster: Roster, artifact_path
):  # type: ignore[no-untyped-def]
    roster.unit("JD", "机电工程学院")
    user = roster.person("3001", "张院长", positions=("college_dean",), unit="JD")
    frame = lms.open_course(user)
    home_url = frame.url

    # The same page on a phone: the LMS's page framing it at the phone's full width (the session cookie is
    # partitioned under the LMS's site, so the page must be framed by that site, as in the LMS's app).
    phone = lms.context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(f"{lms.platform.base}/embed?src={home_url}")
    phone.evaluate("""() => { document.body.style.margin = '0';
        const f = document.getElementById('embedded');
        f.style.width = '100%'; f.style.height = '740px'; f.style.border = '0'; }""")
    tool = phone.frame_locator("iframe#embedded")
    tool.get_by_text("O-4").first.wait_for()
    inner = phone.frames[1]
    inner.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])
    scroll_width = inner.evaluate("document.documentElement.scrollWidth")
    phone.screenshot(path=str(artifact_path("home-375.png")), full_page=True)
    assert scroll_width <= PHONE["width"], f"the home page is {scroll_width}px wide on a 375px phone"
