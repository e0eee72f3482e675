"""One platform cannot stall the others (issue 13 §1).

Institution SLOW's platform publishes its key set from a server that answers one byte at a time, every
fraction of a second, for as long as the test lets it. Launches posted for that platform must not delay
institution JTI's launches, the fetch must end at its deadline (however the bytes trickle), a failure is
remembered (no second fetch during the back-off), and a launch that fails a cheap check causes no fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lti_tool.lti.registration import PlatformSpec, RegistrationService
from tests.conftest import make_institution
from tests.support.launch import Launcher
from tests.support.platform import LTI, ROLE_INSTRUCTOR, LmsUser, PlatformSimulator, auth_request_params

EN = {"Accept-Language": "en"}
TEACHER = LmsUser("u-100", "王老师", "wang@jti.edu", "1001", [ROLE_INSTRUCTOR])
OTHER = LmsUser("s-7", "李老师", "li@slow.edu", "7007", [ROLE_INSTRUCTOR])


class DripServer:
    """Answers every GET with a JSON header promising 100 kB, then one byte per ``interval`` until
    ``release`` is set (or for ever, in effect)."""

    def __init__(self, interval: float) -> None:
        self.requests = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        drip = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                drip.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                drip.started.set()
                try:
                    while not drip.release.wait(interval):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except OSError:  # the tool gave up and closed the connection
                    pass
                finally:
                    drip.finished.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_platform(session_factory, settings, tool_key) -> Iterator[tuple[PlatformSimulator, DripServer]]:  # type: ignore[no-untyped-def]
    drip = DripServer(interval=0.2)
    sim = PlatformSimulator().start()
    sim.tool_base = settings.base_url
    make_institution(session_factory, code="SLOW", name="慢速学院")
    with session_factory.begin() as s:
        RegistrationService(s, settings).add_platform(
            "SLOW",
            PlatformSpec(
                issuer=sim.issuer,
                client_id=sim.client_id,
                deployment_ids=[sim.deployment_id],
                auth_login_url=sim.urls["auth"],
                auth_token_url=sim.urls["token"],
                key_set_url=drip.url,
                name="Slow LMS",
            ),
        )
    yield sim, drip
    drip.stop()
    sim.stop()


def _post_launch(client, sim: PlatformSimulator, user: LmsUser, **overrides: object):  # type: ignore[no-untyped-def]
    login = client.post("/lti/login", data=sim.login_params(user), headers=EN)
    assert login.status_code == 302, login.get_data(as_text=True)
    auth = auth_request_params(login.headers["Location"])
    body = sim.claims(user, auth["nonce"], **overrides)
    return client.post("/lti/launch", data={"id_token": sim.sign(body), "state": auth["state"]}, headers=EN)


def _in_thread(target) -> tuple[threading.Thread, list]:  # type: ignore[no-untyped-def]
    out: list = []
    thread = threading.Thread(target=lambda: out.append(target()), daemon=True)
    thread.start()
    return thread, out


def test_a_slow_key_set_does_not_delay_another_institution(
    app, platform: PlatformSimulator, launcher: Launcher, slow_platform
) -> None:
    sim, drip = slow_platform
    app.extensions["tingke"].key_cache.fetch_deadline = 600  # only the release ends the slow fetch
    slow_thread, slow_out = _in_thread(lambda: _post_launch(app.test_client(), sim, OTHER).status_code)
    assert drip.started.wait(30), "the slow platform's key set was never asked for"
    # JTI's keys are not cached either: its launch fetches them while SLOW's fetch is under way
    jti_thread, jti_out = _in_thread(lambda: launcher.launch(TEACHER).response.status_code)
    jti_thread.join(60)
    assert not jti_thread.is_alive(), "JTI's launch waited for SLOW's key set"
    assert jti_out == [303]
    assert slow_thread.is_alive() and not drip.finished.is_set()  # SLOW's fetch was still running
    drip.release.set()
    slow_thread.join(60)
    assert slow_out == [400]


def test_the_whole_fetch_has_a_deadline_and_a_failure_is_remembered(app, slow_platform) -> None:
    sim, drip = slow_platform
    cache = app.extensions["tingke"].key_cache
    cache.fetch_deadline = 1.0  # bytes keep coming every 0.2 s: only a deadline for the whole fetch ends it
    client = app.test_client()
    thread, out = _in_thread(lambda: _post_launch(client, sim, OTHER).get_data(as_text=True))
    thread.join(60)
    assert not thread.is_alive(), "the trickling key set was read past the deadline"
    assert "could not be fetched" in out[0]
    assert drip.finished.wait(30)  # the tool closed the connection
    assert drip.requests == 1
    # within the back-off, further launches are refused without asking the platform again
    for _ in range(3):
        response = _post_launch(client, sim, OTHER)
        assert response.status_code == 400
        assert "could not be fetched" in response.get_data(as_text=True)
    assert drip.requests == 1


def test_cheap_checks_come_before_any_fetch(app, slow_platform) -> None:
    sim, drip = slow_platform
    client = app.test_client()
    cases = [
        {LTI + "resource_link": {"title": "no id"}},  # message shape
        {LTI + "deployment_id": "999"},  # unknown deployment
        {LTI + "context": {"title": "no id"}},
    ]
    for overrides in cases:
        assert _post_launch(client, sim, OTHER, **overrides).status_code == 400
    # a well-formed token without a pending login of this browser (no state cookie)
    login = client.post("/lti/login", data=sim.login_params(OTHER))
    auth = auth_request_params(login.headers["Location"])
    token = sim.sign(sim.claims(OTHER, auth["nonce"]))
    fresh = app.test_client()
    assert fresh.post("/lti/launch", data={"id_token": token, "state": auth["state"]}).status_code == 400
    assert drip.requests == 0
