"""Launch checks added under attack (issue 13 §3): the login's deployment, state cookies per browser, the
id_token's maximum age as configured.

Claim checks (context without id, iat too old, ids longer than 255) are cases of
tests/functional/lti/test_security.py ``CLAIM_CASES``.
"""

from __future__ import annotations

import html
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from lti_tool.config import Settings
from lti_tool.lti.models import Deployment, Platform
from lti_tool.lti.services import STATE_COOKIE_PREFIX
from tests.support.launch import Launcher
from tests.support.platform import LTI, ROLE_INSTRUCTOR, LmsUser, PlatformSimulator

EN = {"Accept-Language": "en"}
TEACHER = LmsUser("u-100", "王老师", "wang@jti.edu", "1001", [ROLE_INSTRUCTOR])


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _state_cookies(client) -> list[str]:
    return [c.key for c in client._cookies.values() if c.key.startswith(STATE_COOKIE_PREFIX)]


def test_unknown_deployment_is_refused_at_login(platform: PlatformSimulator, client) -> None:
    params = platform.login_params(TEACHER, lti_deployment_id="999")
    response = client.post("/lti/login", data=params, headers=EN)
    assert response.status_code == 400
    assert "unknown deployment id" in _text(response)
    assert not _state_cookies(client)


def test_overlong_deployment_is_refused_at_login(platform: PlatformSimulator, client) -> None:
    response = client.post(
        "/lti/login", data=platform.login_params(TEACHER, lti_deployment_id="d" * 256), headers=EN
    )
    assert response.status_code == 400
    assert "unknown deployment id" in _text(response)


def test_launch_deployment_must_match_the_logins(
    platform: PlatformSimulator, client, session_factory, launcher: Launcher
) -> None:
    with session_factory.begin() as s:  # a second registered deployment of the same platform
        platform_id = s.scalar(select(Platform.id).where(Platform.issuer == platform.issuer))
        s.add(Deployment(platform_id=platform_id, deployment_id="2"))
    auth = launcher.login(TEACHER)  # the login names deployment "1"
    body = platform.claims(TEACHER, auth["nonce"])
    body[LTI + "deployment_id"] = "2"  # registered, but not the login's
    response = client.post(
        "/lti/launch", data={"id_token": platform.sign(body), "state": auth["state"]}, headers=EN
    )
    assert response.status_code == 400
    assert "deployment differs from the login request" in _text(response)
    # the same token with the login's own deployment passes (control)
    auth = launcher.login(TEACHER, lti_deployment_id="2")
    body = platform.claims(TEACHER, auth["nonce"])
    body[LTI + "deployment_id"] = "2"
    response = client.post("/lti/launch", data={"id_token": platform.sign(body), "state": auth["state"]})
    assert response.status_code == 303


def test_ids_of_255_characters_are_accepted(launcher: Launcher) -> None:
    launcher.launch(
        TEACHER,
        **{
            LTI + "resource_link": {"id": "r" * 255, "title": "Observation"},
            LTI + "context": {"id": "c" * 255, "label": "C1", "title": "Course"},
        },
    )


def test_abandoned_logins_do_not_pile_up_state_cookies(
    platform: PlatformSimulator, client, settings, launcher: Launcher
) -> None:
    limit = settings.max_login_states_per_browser
    first = launcher.login(TEACHER)
    for _ in range(limit * 4):  # logins abandoned in one browser (the 431 of issue 13 needed 89)
        launcher.login(TEACHER)
        assert len(_state_cookies(client)) <= limit
    assert len(_state_cookies(client)) == limit
    assert STATE_COOKIE_PREFIX + first["state"] not in _state_cookies(client)  # the oldest was replaced
    # the newest login still launches
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"])
    response = launcher.post_launch(platform.sign(body), auth["state"])
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query)["s"]


def test_id_token_max_age_is_configurable(
    platform: PlatformSimulator, client, app, settings, launcher: Launcher, monkeypatch
) -> None:
    """``TINGKE_ID_TOKEN_MAX_AGE`` decides how old an id_token (``iat``) may be, whatever its ``exp``."""
    assert Settings.from_env().id_token_max_age_seconds == 600
    monkeypatch.setenv("TINGKE_ID_TOKEN_MAX_AGE", "1800")
    assert Settings.from_env().id_token_max_age_seconds == 1800
    now = int(time.time())

    def launch_issued(ago: int) -> int:
        auth = launcher.login(TEACHER)
        body = platform.claims(TEACHER, auth["nonce"], iat=now - ago, exp=now + 600)
        return launcher.post_launch(platform.sign(body), auth["state"]).status_code

    assert launch_issued(1200) == 400  # 20 minutes: too old under the default 10
    monkeypatch.setattr(
        app.extensions["tingke"], "settings", replace(settings, id_token_max_age_seconds=1800)
    )
    assert launch_issued(1200) == 303
    assert launch_issued(1800 + settings.clock_leeway_seconds + 60) == 400
