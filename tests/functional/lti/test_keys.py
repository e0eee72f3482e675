"""Key rotation through the real CLI: ``tingke keys add`` publishes a second key that signs from then on;
``tingke keys remove`` unpublishes the old one; the last key cannot be removed.
"""

from __future__ import annotations

import re

import jwt
import pytest

from tests.support.cli import Run, cli_runner
from tests.support.launch import Launcher
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser, PlatformSimulator


@pytest.fixture
def run(database_url: str, settings, monkeypatch: pytest.MonkeyPatch) -> Run:
    return cli_runner(
        monkeypatch, database_url, settings.instance_path, settings.secret_key, settings.base_url
    )


def _published(client) -> list[str]:
    return [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]


def _deep_link_kid(client, launcher: Launcher) -> str:
    result = launcher.launch(LmsUser("t-1", roles=[ROLE_INSTRUCTOR]), message_type="LtiDeepLinkingRequest")
    page = client.get(result.response.headers["Location"]).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = client.post(f"/lti/deep-link?s={result.token}", data={"csrf": csrf, "target": "home"})
    token = re.search(r'name="JWT" value="([^"]+)"', answer.get_data(as_text=True)).group(1)
    return str(jwt.get_unverified_header(token)["kid"])


def test_key_rotation(
    run: Run, client, launcher: Launcher, platform: PlatformSimulator, tool_key: str
) -> None:
    assert _published(client) == [tool_key]
    assert _deep_link_kid(client, launcher) == tool_key

    added = run("keys", "add")
    assert added.exit_code == 0, added.output
    new_kid = re.search(r"kid=(\S+)", added.output).group(1)
    assert new_kid != tool_key
    assert _published(client) == [tool_key, new_kid]  # the old key stays published during rotation
    assert _deep_link_kid(client, launcher) == new_kid  # the newest key signs
    listed = run("keys", "list")
    assert tool_key in listed.output and new_kid in listed.output

    removed = run("keys", "remove", tool_key)
    assert removed.exit_code == 0, removed.output
    assert _published(client) == [new_kid]
    assert _deep_link_kid(client, launcher) == new_kid

    last = run("keys", "remove", new_kid)
    assert last.exit_code == 2
    assert "last key cannot be removed" in last.output
    assert _published(client) == [new_kid]

    unknown = run("keys", "remove", "no-such-kid")
    assert unknown.exit_code == 2 and "No key with kid" in unknown.output


def test_nrps_client_assertion_uses_the_newest_key(
    run: Run, client, launcher: Launcher, platform: PlatformSimulator, session_factory, settings
) -> None:
    from lti_tool.lti.nrps import CourseMembersService
    from lti_tool.lti.sessions import LaunchSessionService

    new_kid = re.search(r"kid=(\S+)", run("keys", "add").output).group(1)
    result = launcher.launch(LmsUser("t-1", roles=[ROLE_INSTRUCTOR]))
    CourseMembersService.clear_cache()
    with session_factory() as s:
        actor = LaunchSessionService(
            s, settings.secret_key, settings.session_lifetime_seconds
        ).actor_from_token(result.token)
        CourseMembersService(s, settings).course_teacher_ids(actor)
    CourseMembersService.clear_cache()
    assert len(platform.token_requests) == 1  # the LMS accepted the assertion against the live JWKS
    assert jwt.get_unverified_header(platform.token_requests[0]["client_assertion"])["kid"] == new_kid
