"""The session in the LMS's iframe lives in Tingke's partitioned cookie (issue 13 §2): with third-party
cookies blocked (Chromium's default here) and with them allowed, no URL the person sees or follows carries
a session, pages, forms and downloads work through the cookie alone, and logging out ends it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lti_tool.web import SESSION_COOKIE
from tests.browser.conftest import LmsBrowser
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser


def _session_args(url: str) -> dict[str, list[str]]:
    query = parse_qs(urlsplit(url).query)
    return {k: v for k, v in query.items() if k in ("s", "t") and any(v)}


def _walk_with_the_cookie(lms: LmsBrowser, roster: Roster, platform: Any) -> None:
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    user = roster.person("2001", "李主任", positions=("head_quality_center",), unit="QC")
    frame = lms.open_course(user)
    lms_site = platform.base.rsplit(":", 1)[0]  # http://127.0.0.1 (a site has no port)
    cookies = {c["name"]: c for c in lms.context.cookies() if c["domain"].lstrip(".") == "localhost"}
    session = cookies.get(SESSION_COOKIE)
    assert session is not None, cookies
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "None"
    assert session.get("partitionKey") == lms_site, session  # kept inside the LMS's pages only
    assert frame.locator("body").get_attribute("data-session") == ""

    # the cookie came back on the first page: nothing the person can copy carries a session
    hrefs = frame.eval_on_selector_all("a[href], form[action]", "els => els.map(e => e.href || e.action)")
    assert hrefs and not [h for h in hrefs if _session_args(h)], hrefs
    # a link, a form post (the language switch) and a download work through the cookie alone
    assert not _session_args(frame.url), frame.url  # the launch's first address lost its token
    lms.navigate(frame.locator("nav.mainnav a[href^='/policy/rules']").first.click, "/policy/rules")
    assert not _session_args(frame.url), frame.url
    download = frame.locator("a[href*='/policy/export']").first
    assert not _session_args(download.get_attribute("href") or "")
    with lms.page.expect_download() as fetched:
        download.click()
    assert fetched.value.failure() is None
    lms.navigate(frame.get_by_role("button", name="English").click, "/policy/rules")
    assert frame.locator("html").get_attribute("lang") == "en"
    served = [r for r in lms.log.responses if "localhost" in r and r.startswith("200 ")]
    assert not [r for r in served if _session_args(r.split(" ", 2)[2])], served

    # logging out ends it: the page that was open no longer answers
    page_url = frame.url
    frame.locator("#logout").click()
    frame.wait_for_selector("#logged-out")
    response = frame.goto(page_url)
    assert response is not None and response.status == 401


def test_session_lives_in_the_partitioned_cookie_with_third_party_cookies_blocked(
    third_party_cookies_blocked, lms: LmsBrowser, roster: Roster, platform
):  # type: ignore[no-untyped-def]
    _walk_with_the_cookie(lms, roster, platform)


def test_session_lives_in_the_partitioned_cookie_with_third_party_cookies_allowed(
    context_allowing_third_party_cookies, roster: Roster, platform, live_server
):  # type: ignore[no-untyped-def]
    lms = LmsBrowser(context_allowing_third_party_cookies, platform, live_server)
    _walk_with_the_cookie(lms, roster, platform)
