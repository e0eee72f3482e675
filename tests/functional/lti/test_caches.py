"""What the launch path caches or skips for speed (bench/launch.md) never serves stale security data.

- A registration changed in this process (re-registration, a new JWKS URL) holds on the very next launch.
- A deployment registered by another process (no ORM event here) is accepted at once: misses are re-read.
- Expired login states and sessions are swept (at most once a minute per process, not on every request).
- A policy upload is in effect on the next ``current()`` in any session.
- The platform user row is written only when something changed, or once an hour.
"""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from sqlalchemy import func, insert, select, update

from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PlatformUser
from lti_tool.lti import sessions as launch_sessions
from lti_tool.lti.models import Deployment, LaunchSession, LoginState, Platform
from lti_tool.lti.registration import PlatformSpec, RegistrationService
from lti_tool.lti.tool_conf import PlatformDirectory, platforms
from lti_tool.policy.store import PolicyStore
from tests.support.launch import Launcher
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser, PlatformSimulator, auth_request_params

EN = {"Accept-Language": "en"}
TEACHER = LmsUser("t-1", "Teacher One", "t1@jti.edu", "1001", [ROLE_INSTRUCTOR])


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/jwks"  # nothing listens there once closed


def _register(session_factory, settings, sim: PlatformSimulator, jwks: str, deployments: list[str]) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        RegistrationService(s, settings).add_platform(
            "JTI",
            PlatformSpec(
                issuer=sim.issuer,
                client_id=sim.client_id,
                deployment_ids=deployments,
                auth_login_url=sim.urls["auth"],
                auth_token_url=sim.urls["token"],
                key_set_url=jwks,
                name="Simulated LMS",
            ),
        )


def _launch_status(launcher: Launcher, platform: PlatformSimulator, **overrides: object) -> tuple[int, str]:
    deployment = overrides.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id")
    # the login names the same deployment as the token (the launch must match its login's)
    extra = {"lti_deployment_id": str(deployment)} if deployment else {}
    login = launcher.client.post("/lti/login", data=platform.login_params(TEACHER, **extra), headers=EN)
    if login.status_code != 302:  # an unknown deployment is refused at login already
        return login.status_code, login.get_data(as_text=True)
    auth = auth_request_params(login.headers["Location"])
    body = platform.claims(TEACHER, auth["nonce"], **overrides)
    form = {"id_token": platform.sign(body), "state": auth["state"]}
    response = launcher.client.post("/lti/launch", data=form, headers=EN)
    return response.status_code, response.get_data(as_text=True)


def test_reregistration_with_a_new_jwks_url_holds_on_the_next_launch(
    launcher: Launcher, platform: PlatformSimulator, session_factory, settings, app
) -> None:
    launcher.launch(TEACHER)  # the registration is now cached in this process
    _register(session_factory, settings, platform, _dead_url(), [platform.deployment_id])
    app.extensions["tingke"].key_cache.clear()  # the keys of the old URL must not decide this
    status, text = _launch_status(launcher, platform)
    assert status == 400 and "could not be fetched" in text
    _register(session_factory, settings, platform, platform.urls["jwks"], [platform.deployment_id])
    assert _launch_status(launcher, platform)[0] == 303


def test_deployment_added_by_another_process_is_accepted_at_once(
    launcher: Launcher, platform: PlatformSimulator, session_factory
) -> None:
    launcher.launch(TEACHER)
    deployment_claim = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
    status, text = _launch_status(launcher, platform, **{deployment_claim: "second"})
    assert status == 400 and "deployment" in text.lower()
    with session_factory.begin() as s:  # a Core insert: what another process's write looks like here
        platform_id = s.scalar(select(Platform.id).where(Platform.issuer == platform.issuer))
        s.execute(insert(Deployment).values(platform_id=platform_id, deployment_id="second"))
    assert _launch_status(launcher, platform, **{deployment_claim: "second"})[0] == 303


def test_cached_registrations_expire(
    monkeypatch: pytest.MonkeyPatch, platform: PlatformSimulator, session_factory
) -> None:
    """A change another process makes (no event here) is seen once the entry's time is up."""
    clock = [1000.0]
    monkeypatch.setattr("lti_tool.lti.tool_conf.time.monotonic", lambda: clock[0])
    directory = PlatformDirectory(ttl=30)
    with session_factory() as s:
        assert directory.get(s, platform.issuer, platform.client_id).key_set_url == platform.urls["jwks"]
    with session_factory.begin() as s:
        s.execute(
            update(Platform).where(Platform.issuer == platform.issuer).values(key_set_url="https://x/k")
        )
    with session_factory() as s:
        assert directory.get(s, platform.issuer, platform.client_id).key_set_url == platform.urls["jwks"]
        clock[0] += 31
        assert directory.get(s, platform.issuer, platform.client_id).key_set_url == "https://x/k"
    platforms.invalidate()


def test_expired_states_and_sessions_are_swept(
    launcher: Launcher, platform: PlatformSimulator, session_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = launcher.launch(TEACHER)
    launcher.login(TEACHER)  # a pending login: its state is not expired
    past = utcnow() - dt.timedelta(seconds=1)
    with session_factory.begin() as s:
        platform_id = s.scalar(select(Platform.id))
        s.add(
            LoginState(
                state="state-old",
                nonce="n-old",
                platform_id=platform_id,
                target_link_uri="x",
                login_params={},
                expires_at=past,
            )
        )
        old = s.scalar(select(LaunchSession).limit(1))
        s.add(
            LaunchSession(
                id="old-session",
                institution_id=old.institution_id,
                platform_id=platform_id,
                lti_user_id="u",
                roles=[],
                claims={},
                expires_at=past,
            )
        )

    def counts() -> tuple[int, int]:
        with session_factory() as s:
            return (
                int(s.scalar(select(func.count()).select_from(LoginState)) or 0),
                int(s.scalar(select(func.count()).select_from(LaunchSession)) or 0),
            )

    monkeypatch.setattr(launch_sessions, "_next_sweep", [float("inf")])  # swept a moment ago
    launcher.login(TEACHER)
    assert counts() == (3, 2)  # not on every request
    monkeypatch.setattr(launch_sessions, "_next_sweep", [0.0])  # a minute has passed
    launcher.login(TEACHER)
    assert counts() == (3, 1)  # only the expired rows went
    assert kept.get(launcher.client, "/home").status_code == 200  # a live session is kept


def test_a_policy_upload_is_in_effect_at_once(session_factory, institution_id: int) -> None:
    with session_factory() as s:
        before = PolicyStore(s, institution_id).current()
    stricter = before.text.replace("count = 2\n", "count = 9\n", 1)
    assert stricter != before.text
    with session_factory.begin() as s:
        PolicyStore(s, institution_id).upload(stricter, None)
    with session_factory() as s:
        assert PolicyStore(s, institution_id).current().text == stricter
    with session_factory.begin() as s:
        PolicyStore(s, institution_id).upload(before.text, None)
    with session_factory() as s:
        assert PolicyStore(s, institution_id).current().text == before.text


def test_platform_user_written_when_changed_or_hourly(
    launcher: Launcher, session_factory, institution_id: int
) -> None:
    with session_factory.begin() as s:
        s.add(Person(institution_id=institution_id, employee_no="1001", name="张老师", email="t1@jti.edu"))
    launcher.launch(TEACHER)

    def row() -> PlatformUser:
        with session_factory() as s:
            return s.scalars(select(PlatformUser).where(PlatformUser.lti_user_id == TEACHER.sub)).one()

    first = row()
    assert first.person_id is not None and first.name == "Teacher One"
    launcher.launch(TEACHER)
    assert row().last_launch_at == first.last_launch_at  # within the hour: no write
    launcher.launch(LmsUser(TEACHER.sub, "Teacher Renamed", TEACHER.email, TEACHER.sourcedid, TEACHER.roles))
    assert row().name == "Teacher Renamed"
    with session_factory.begin() as s:
        s.execute(update(PlatformUser).values(last_launch_at=utcnow() - dt.timedelta(hours=2)))
    launcher.launch(TEACHER)
    assert utcnow() - row().last_launch_at < dt.timedelta(minutes=1)


def test_losing_the_first_launch_race_finds_the_winners_row(
    session_factory, institution_id: int, platform: PlatformSimulator
) -> None:
    """Two first launches of one user at once: the second INSERT fails, and it takes the first one's row
    (``known_new`` is what the launch passes after finding no row: here the winner committed meanwhile)."""
    from lti_tool.directory.identity import IdentityService
    from lti_tool.lti.claims import LaunchClaims

    claims = LaunchClaims(
        message_type="LtiResourceLinkRequest", user_id="racer", roles=[ROLE_INSTRUCTOR], name="Racer"
    )
    with session_factory.begin() as s:
        platform_id = s.scalar(select(Platform.id))
        winner = IdentityService(s, institution_id).resolve(platform_id, claims).id
    with session_factory.begin() as s:
        loser = IdentityService(s, institution_id).resolve(platform_id, claims, known_new=True)
        assert loser.id == winner
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PlatformUser)) == 1


def test_state_is_single_use_without_delete_returning(
    launcher: Launcher, platform: PlatformSimulator, app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database without ``DELETE … RETURNING`` (SQLite < 3.35) takes the SELECT + DELETE path."""
    dialect = app.extensions["tingke"].session_factory.kw["bind"].dialect
    monkeypatch.setattr(dialect, "delete_returning", False)
    auth = launcher.login(TEACHER)
    form = {"id_token": platform.sign(platform.claims(TEACHER, auth["nonce"])), "state": auth["state"]}
    assert launcher.client.post("/lti/launch", data=form, headers=EN).status_code == 303
    launcher.client.set_cookie(f"lti1p3-{auth['state']}", auth["state"], path="/lti/")  # replayed by hand
    again = launcher.client.post("/lti/launch", data=form, headers=EN)
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
