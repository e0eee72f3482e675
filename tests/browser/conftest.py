"""Browser fixtures: Debian's Chromium driven by Playwright, an LMS-like page on another site that
launches Tingke into an iframe, and roster seeding helpers.

Why these choices (docs/stack-notes.md §7, §8):

- The browser is Debian's ``/usr/bin/chromium`` (``executable_path``), never one downloaded by
  ``playwright install``. ``scripts/setup.sh --test`` installs the package; a missing binary skips
  locally but fails when ``TINGKE_REQUIRE_BROWSER`` is set (CI).
- Each test gets a fresh, empty browser context (no cookies, no storage). Chromium 156 blocks
  third-party cookies by default in such a profile; ``third_party_cookies_blocked`` proves it on the
  same two sites the tests use, so a test that passes really ran with the block on.
- The LMS page is served by the platform simulator at ``http://127.0.0.1:<port>`` and the tool at
  ``http://localhost:<port>``: two different *sites*, so the tool is third-party inside the iframe,
  exactly as in Moodle. Chromium treats http://localhost as a secure context, so ``Secure`` and
  ``Partitioned`` cookies behave as over HTTPS.

Later browser tests (picker, observation form) reuse: ``browser``, ``context``, ``lms`` (``LmsBrowser``:
``open_course(user)`` returns the tool's iframe once it reached its first page), ``roster``
(``Roster`` from tests/support/worlds.py: units and people with positions, returning the ``LmsUser``
that matches each person), and
``artifact_path`` for screenshots.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from lti_tool import PROJECT_ROOT
from tests.support.platform import LmsUser, PlatformSimulator
from tests.support.worlds import Roster

CHROMIUM = os.environ.get("TINGKE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
DEFAULT_TIMEOUT_MS = 15_000


# -- the browser -----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = (
            f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium; "
            "scripts/setup.sh --test installs it). Never use `playwright install`."
        )
        if os.environ.get("TINGKE_REQUIRE_BROWSER"):  # CI sets this: the iframe tests must not skip
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    driver = sync_api.sync_playwright().start()
    yield driver
    driver.stop()


@pytest.fixture(scope="session")
def browser(playwright_driver: Any) -> Iterator[Any]:
    """One Chromium process for the session; isolation comes from a new context per test."""
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A new, empty context: no cookies or storage from earlier tests; Chinese first, like the users."""
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def artifact_path(request: pytest.FixtureRequest) -> Any:
    """``artifact_path("home.png")`` → test-artifacts/<test name>-home.png (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def make(name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        return ARTIFACTS / f"{safe}-{name}"

    return make


# -- what the browser saw ----------------------------------------------------------------------------------
@dataclass
class BrowserLog:
    """Console messages, page errors and failed responses, for assertion messages when a flow breaks."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.responses.append(f"FAILED {r.method} {r.url}: {r.failure}"))
        page.on("response", lambda r: self.responses.append(f"{r.status} {r.request.method} {r.url}"))

    def __str__(self) -> str:
        return (
            "\n--- console\n"
            + "\n".join(self.console)
            + "\n--- page errors\n"
            + "\n".join(self.errors)
            + "\n--- responses\n"
            + "\n".join(self.responses)
        )


class LmsBrowser:
    """A browser tab on the simulated LMS's course page, with the tool in its iframe."""

    def __init__(self, context: Any, platform: PlatformSimulator, tool_base: str) -> None:
        self.context = context
        self.platform = platform
        self.tool_base = tool_base
        self.page = context.new_page()
        self.log = BrowserLog()
        self.log.attach(self.page)

    @property
    def frame(self) -> Any:
        """The tool's iframe (the same Frame object across its navigations)."""
        frame = self.page.frame(name="tool")
        assert frame is not None, f"the course page has no tool iframe{self.log}"
        return frame

    def open_course(self, user: LmsUser, first_path: str = "/home") -> Any:
        """Open the course page as ``user``; the iframe runs login + launch and lands on ``first_path``."""
        self.platform.pending_users[user.sub] = user
        self.page.goto(f"{self.platform.base}/course?user={user.sub}")
        self.wait_for_tool(first_path)
        return self.frame

    def _pattern(self, path: str) -> re.Pattern[str]:
        return re.compile(re.escape(self.tool_base + path) + r"(\?|$)")

    def _diagnose(self, path: str, exc: Exception) -> AssertionError:
        body = ""
        with contextlib.suppress(Exception):  # best-effort diagnostics only
            body = self.frame.inner_text("body")
        return AssertionError(
            f"the iframe did not reach {path}; it is at {self.frame.url}\n--- iframe text\n{body}{self.log}"
        )

    def wait_for_tool(self, path: str) -> None:
        """Wait until the iframe shows ``path`` (use ``navigate`` when it is already there)."""
        try:
            self.frame.wait_for_url(self._pattern(path))
            self.frame.wait_for_load_state("load")
        except Exception as exc:
            raise self._diagnose(path, exc) from exc

    def navigate(self, action: Callable[[], Any], path: str) -> None:
        """Run ``action`` (a click, a select…) and wait for the iframe's *next* page to be ``path``.

        ``wait_for_url`` alone would return at once when a form posts back to the page it is on.
        """
        try:
            with self.frame.expect_navigation(url=self._pattern(path), wait_until="load"):
                action()
        except Exception as exc:
            raise self._diagnose(path, exc) from exc

    def text(self) -> str:
        return str(self.frame.inner_text("body"))


@pytest.fixture
def lms(context: Any, platform: PlatformSimulator, live_server: str) -> LmsBrowser:
    return LmsBrowser(context, platform, live_server)


# -- proof that third-party cookies are blocked in this browser --------------------------------------------
class _CookieProbe:
    """A tiny server on the tool's *site* (http://localhost) that sets an ordinary third-party cookie
    (``SameSite=None; Secure``, not partitioned) and reports which cookies came back."""

    def __init__(self) -> None:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://localhost:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/set":
            response = Response("<!doctype html><p id=set>set</p>", content_type="text/html")
            response.set_cookie("plain3p", "1", secure=True, samesite="None", path="/")
            response.set_cookie("chips3p", "1", secure=True, samesite="None", partitioned=True, path="/")
        else:
            names = " ".join(sorted(request.cookies)) or "none"
            response = Response(f"<!doctype html><p id=got>{names}</p>", content_type="text/html")
        return response(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture(scope="session")
def cookie_probe() -> Iterator[_CookieProbe]:
    probe = _CookieProbe()
    yield probe
    probe.stop()


def third_party_cookies_seen(context: Any, platform: PlatformSimulator, probe: _CookieProbe) -> str:
    """Frame the probe from the LMS's site, set both cookies, reload the frame: which came back?"""
    page = context.new_page()
    try:
        page.goto(f"{platform.base}/embed?src={probe.base}/set")
        page.frame_locator("iframe#embedded").locator("#set").wait_for()
        page.goto(f"{platform.base}/embed?src={probe.base}/get")
        return str(page.frame_locator("iframe#embedded").locator("#got").inner_text())
    finally:
        page.close()


@pytest.fixture
def third_party_cookies_blocked(
    context: Any, platform: PlatformSimulator, cookie_probe: _CookieProbe
) -> None:
    """Fails the test unless this context blocks unpartitioned third-party cookies (and keeps CHIPS)."""
    seen = third_party_cookies_seen(context, platform, cookie_probe).split()
    assert "plain3p" not in seen, f"third-party cookies are NOT blocked in this browser (got {seen})"
    assert "chips3p" in seen, f"partitioned cookies did not survive (got {seen})"
    context.clear_cookies()


# Chromium's profile preferences that let third-party cookies through (a browser that still allows them);
# Playwright's ordinary contexts are off-the-record profiles, which block them whatever the flags say.
THIRD_PARTY_COOKIES_ALLOWED = {
    "profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False},
    "tracking_protection": {"tracking_protection_3pcd_enabled": False, "block_all_3pc_toggle_enabled": False},
}


@pytest.fixture
def context_allowing_third_party_cookies(
    playwright_driver: Any, platform: PlatformSimulator, cookie_probe: _CookieProbe, tmp_path: Path
) -> Iterator[Any]:
    """A Chromium profile that keeps unpartitioned third-party cookies (proved with the probe): the
    session must work the same there as with the block on."""
    profile = tmp_path / "chromium-profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(THIRD_PARTY_COOKIES_ALLOWED))
    ctx = playwright_driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        locale="zh-CN",
        viewport={"width": 1280, "height": 1000},
    )
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        seen = third_party_cookies_seen(ctx, platform, cookie_probe).split()
        assert "plain3p" in seen, f"third-party cookies are still blocked in this profile (got {seen})"
        ctx.clear_cookies()
        yield ctx
    finally:
        ctx.close()


# -- roster (the class lives with the other test colleges: tests/support/worlds.py) ----------------------
@pytest.fixture
def roster(session_factory: Any, institution_id: int) -> Roster:
    return Roster(session_factory, institution_id)
