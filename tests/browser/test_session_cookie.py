"""The session in the LMS's iframe lives in Tingke's partitioned cookie (issue 13 §2): with third-party
cookies blocked (Chromium's default here) and with them allowed, no URL the person sees or follows carries
a session, pages, forms and downloads work through the cookie alone, and logging out ends it."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lti_tool.lti.sessions import LaunchSessionService
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


def _drop_the_session_cookie(route: Any) -> None:
    """The launch's answer without its Set-Cookie for the session (the launch's state cookie still comes
    and goes): a browser that refuses Tingke's session cookie but kept the login state."""
    response = route.fetch(max_redirects=0)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
    kept = [
        h["value"]
        for h in response.headers_array
        if h["name"].lower() == "set-cookie" and not h["value"].startswith(SESSION_COOKIE)
    ]
    if kept:
        headers["set-cookie"] = "\n".join(kept)
    route.fulfill(response=response, headers=headers)


def test_without_the_session_cookie_the_link_token_is_renewed_while_the_page_is_open(
    lms: LmsBrowser, roster: Roster, live_server, app, monkeypatch
):  # type: ignore[no-untyped-def]
    """Where the browser does not keep Tingke's session cookie, the page holds a link token that lives
    ``link_token_seconds``; app.js renews it before it expires and rewrites the page's links, so a person
    who reads a page for longer than a token lives can still follow its links (issue 13 §2). Here a token
    lives 30 s and is renewed every 10 s; the link followed after 40 s works, the page's first token no
    longer does."""
    tingke = app.extensions["tingke"]
    short = dataclasses.replace(tingke.settings, link_token_seconds=30)
    monkeypatch.setattr(tingke, "settings", short)
    monkeypatch.setattr(
        tingke,
        "sessions",
        lambda session: LaunchSessionService(
            session, tingke.secret, short.session_lifetime_seconds, short.link_token_seconds
        ),
    )
    lms.context.route("**/lti/launch", _drop_the_session_cookie)
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    user = roster.person("2001", "李主任", positions=("head_quality_center",), unit="QC")
    frame = lms.open_course(user)
    # (Playwright's fetch filed the answer's cookie in the context's own, unpartitioned jar: the iframe,
    # blocked from third-party cookies, never sends it; drop it anyway)
    lms.context.clear_cookies(name=SESSION_COOKIE)
    first = frame.locator("body").get_attribute("data-session") or ""
    assert first, "without a cookie the page must hold a link token"
    assert frame.locator("body").get_attribute("data-session-renew") == "10"
    link = frame.locator("nav.mainnav a[href^='/policy/rules']").first
    assert _session_args(link.get_attribute("href") or "").get("s") == [first]

    frame.wait_for_timeout(40_000)  # longer than a token lives: only the renewals keep the page working
    renewed = _session_args(link.get_attribute("href") or "").get("s")
    assert renewed and renewed != [first], "app.js did not rewrite the link with a renewed token"
    lms.navigate(link.click, "/policy/rules")
    assert frame.locator("h1, h2").first.is_visible()
    stale = frame.goto(f"{live_server}/home?s={first}")
    assert stale is not None and stale.status == 401, "the page's first token should have expired"
