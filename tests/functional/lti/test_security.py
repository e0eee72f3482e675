"""LTI launch security (issue 2 §8): one test per check, each through a real OIDC login and launch.

Each refusal test builds a launch that differs from a valid one in exactly one way and asserts the
reason the tool gives, so removing that check makes the test fail (either the launch passes, or another
check answers with another reason). Every refused launch must answer 4xx with an HTML page and leave no
``launch_session`` or ``platform_user`` row behind. Pages are requested in English (Accept-Language) so
that the reasons stay readable when the Chinese catalog arrives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from lti_tool.directory.models import Person, PlatformUser
from lti_tool.lti.models import LaunchSession, LoginState
from tests.support.launch import Launcher
from tests.support.platform import (
    DELETE,
    LTI,
    ROLE_INSTRUCTOR,
    ROLE_LEARNER,
    LmsUser,
    PlatformSimulator,
    auth_request_params,
    new_rsa_key,
)

EN = {"Accept-Language": "en"}
TEACHER = LmsUser("u-100", "王老师", "wang@jti.edu", "1001", [ROLE_INSTRUCTOR])


def _rows(session_factory) -> tuple[int, int]:
    with session_factory() as s:
        return (
            int(s.scalar(select(func.count()).select_from(LaunchSession)) or 0),
            int(s.scalar(select(func.count()).select_from(PlatformUser)) or 0),
        )


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _assert_refused(
    response, session_factory, before: tuple[int, int], reason: str, status: int = 400
) -> None:
    assert response.status_code == status, _text(response)[:2000]
    assert response.mimetype == "text/html"
    text = _text(response)
    assert reason in text, text[:2000]
    assert "Traceback" not in text
    assert _rows(session_factory) == before, "a refused launch left rows behind"


def _post(client, id_token: str | None, state: str | None):
    data = {k: v for k, v in (("id_token", id_token), ("state", state)) if v is not None}
    return client.post("/lti/launch", data=data, headers=EN)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def before(session_factory, platform) -> tuple[int, int]:
    return _rows(session_factory)


# -- control: the unmodified launch passes, so each refusal below is caused by its one change ----------
def test_valid_launch_is_accepted(launcher: Launcher, platform: PlatformSimulator, client, session_factory):
    auth = launcher.login(TEACHER)
    response = _post(client, platform.sign(platform.claims(TEACHER, auth["nonce"])), auth["state"])
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/home"
    assert _rows(session_factory) == (1, 1)


# -- claims, one at a time ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ago:
    """A timestamp claim this many seconds before the (pinned) clock at the test's run, not at import."""

    seconds: int


CLAIM_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("iss_wrong", {"iss": "https://evil.example"}, "not registered with Tingke"),
    ("aud_wrong", {"aud": "someone-else"}, "not registered with Tingke"),
    (
        "aud_list_with_untrusted_audience",
        {"aud": ["tingke-client", "evil-tool"], "azp": "tingke-client"},
        "also addressed to an audience Tingke does not trust",
    ),
    ("aud_list_without_azp", {"aud": ["tingke-client", "evil-tool"]}, "must name its authorized party"),
    ("azp_mismatch", {"azp": "evil-tool"}, "authorized party (azp) is not among its audiences"),
    ("exp_missing", {"exp": DELETE}, 'missing the "exp" claim'),
    ("iat_missing", {"iat": DELETE}, 'missing the "iat" claim'),
    ("exp_not_a_number", {"exp": "tomorrow"}, "exp must be a number of seconds"),
    ("expired", {"iat": Ago(300), "exp": Ago(120)}, "The launch has expired"),
    ("issued_too_long_ago", {"iat": Ago(3600), "exp": Ago(-600)}, "issued more than 10 minutes ago"),
    ("issued_30_days_ago", {"iat": Ago(30 * 86400), "exp": Ago(-600)}, "issued more than 10 minutes ago"),
    ("context_without_id", {LTI + "context": {"label": "C1", "title": "Course"}}, "context claim has no id"),
    ("context_id_empty", {LTI + "context": {"id": ""}}, "context claim has no id"),
    (
        "resource_link_id_too_long",
        {LTI + "resource_link": {"id": "r" * 256}},
        "resource_link.id is longer than 255",
    ),
    ("context_id_too_long", {LTI + "context": {"id": "c" * 256}}, "context.id is longer than 255"),
    (
        "platform_guid_too_long",
        {LTI + "tool_platform": {"guid": "g" * 256}},
        "tool_platform.guid is longer than 255",
    ),
    ("nonce_missing", {"nonce": DELETE}, 'missing the "nonce" claim'),
    ("nonce_of_another_login", {"nonce": "nonce-from-elsewhere"}, "nonce does not match its login request"),
    ("deployment_not_registered", {LTI + "deployment_id": "999"}, "Unable to find deployment"),
    ("deployment_missing", {LTI + "deployment_id": DELETE}, "names no deployment"),
    ("message_type_missing", {LTI + "message_type": DELETE}, "has no message type"),
    (
        "message_type_unknown",
        {LTI + "message_type": "LtiFancyRequest"},
        "does not handle LTI messages of type",
    ),
    (
        "message_type_privacy",
        {LTI + "message_type": "DataPrivacyLaunchRequest", LTI + "for_user": {"user_id": "x"}},
        "does not handle LTI messages of type",
    ),
    ("version_not_1_3_0", {LTI + "version": "1.1.0"}, "Incorrect version, expected 1.3.0"),
    ("resource_link_id_missing", {LTI + "resource_link": {"title": "no id"}}, "has no resource link id"),
    ("resource_link_not_an_object", {LTI + "resource_link": "link-1"}, "has no resource link id"),
    ("context_not_an_object", {LTI + "context": "course-1"}, "must be a JSON object"),
    ("target_link_uri_missing", {LTI + "target_link_uri": DELETE}, "target_link_uri differs from the login"),
    ("sub_missing", {"sub": DELETE}, "Must have a user (sub)"),
    ("sub_not_a_string", {"sub": 12345}, "user id (sub) is missing"),
    ("sub_too_long", {"sub": "u" * 256}, "longer than 255 characters"),
    ("roles_missing", {LTI + "roles": DELETE}, "Missing Roles Claim"),
    ("roles_not_a_list", {LTI + "roles": ROLE_INSTRUCTOR}, "roles claim must be a list"),
]


@pytest.mark.parametrize(
    ("overrides", "reason"), [c[1:] for c in CLAIM_CASES], ids=[c[0] for c in CLAIM_CASES]
)
def test_claim_check_refuses(
    overrides: dict[str, Any],
    reason: str,
    launcher: Launcher,
    platform: PlatformSimulator,
    client,
    session_factory,
    before,
) -> None:
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"])
    for key, value in overrides.items():
        if value is DELETE:
            body.pop(key)
        elif isinstance(value, Ago):
            body[key] = int(time.time()) - value.seconds
        else:
            body[key] = value
    _assert_refused(_post(client, platform.sign(body), auth["state"]), session_factory, before, reason)


def test_target_link_uri_different_from_login(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    auth = launcher.login(TEACHER)  # the login asked for /lti/launch
    body = platform.claims(TEACHER, auth["nonce"], target_link_uri=f"{platform.tool_base}/home")
    _assert_refused(
        _post(client, platform.sign(body), auth["state"]),
        session_factory,
        before,
        "target_link_uri differs from the login",
    )


def test_sub_of_255_characters_is_accepted(launcher: Launcher, platform: PlatformSimulator, client) -> None:
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"], sub="u" * 255)
    assert _post(client, platform.sign(body), auth["state"]).status_code == 303


def test_iat_in_the_future_beyond_leeway_is_refused(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    now = int(time.time())
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"], iat=now + 120, exp=now + 600)
    response = _post(client, platform.sign(body), auth["state"])
    assert response.status_code == 400
    assert re.search(r"not yet valid \(iat\)|issued in the future", _text(response))
    assert _rows(session_factory) == before


def test_iat_in_the_future_within_leeway_is_accepted(
    launcher: Launcher, platform: PlatformSimulator, client
) -> None:
    now = int(time.time())
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"], iat=now + 30, exp=now + 600)  # an LMS clock 30 s fast
    assert _post(client, platform.sign(body), auth["state"]).status_code == 303


def test_expired_within_leeway_is_accepted(launcher: Launcher, platform: PlatformSimulator, client) -> None:
    now = int(time.time())
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"], iat=now - 300, exp=now - 20)
    assert _post(client, platform.sign(body), auth["state"]).status_code == 303


# -- signature -----------------------------------------------------------------------------------------
def test_bad_signature(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    other_pem, _ = new_rsa_key()
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]), pem=other_pem)  # the platform's kid
    _assert_refused(
        _post(client, token, auth["state"]), session_factory, before, "Signature verification failed"
    )


def test_alg_none(launcher: Launcher, platform: PlatformSimulator, client, session_factory, before) -> None:
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"])
    token = jwt.encode(body, None, algorithm="none", headers={"kid": platform.kid})
    _assert_refused(_post(client, token, auth["state"]), session_factory, before, "must be signed with RS256")


def test_hs256_signed_with_the_public_key(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    from jwcrypto.jwk import JWK

    public_pem = JWK(**platform.public_jwk).export_to_pem()  # what an attacker can download
    auth = launcher.login(TEACHER)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": platform.kid}).encode())
    payload = _b64(json.dumps(platform.claims(TEACHER, auth["nonce"])).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    token = f"{header}.{payload}.{signature}"
    _assert_refused(_post(client, token, auth["state"]), session_factory, before, "must be signed with RS256")


def test_tampered_payload(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    auth = launcher.login(TEACHER)
    header, _payload, signature = platform.sign(platform.claims(TEACHER, auth["nonce"])).split(".")
    forged = platform.claims(TEACHER, auth["nonce"])
    forged[LTI + "roles"] = ["http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"]
    token = f"{header}.{_b64(json.dumps(forged).encode())}.{signature}"
    _assert_refused(
        _post(client, token, auth["state"]), session_factory, before, "Signature verification failed"
    )


def test_unknown_kid(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    other_pem, other_jwk = new_rsa_key()
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]), kid=other_jwk["kid"], pem=other_pem)
    _assert_refused(
        _post(client, token, auth["state"]),
        session_factory,
        before,
        "signed with a key the platform does not publish",
    )


def test_missing_kid(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    auth = launcher.login(TEACHER)
    token = jwt.encode(platform.claims(TEACHER, auth["nonce"]), platform.pem, algorithm="RS256")
    _assert_refused(_post(client, token, auth["state"]), session_factory, before, "names no key (kid)")


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", f"{_b64(b'[1]')}.{_b64(b'[2]')}.x"],
    ids=["no_dots", "not_base64_json", "not_objects"],
)
def test_malformed_token(token: str, launcher: Launcher, client, session_factory, before) -> None:
    auth = launcher.login(TEACHER)
    _assert_refused(_post(client, token, auth["state"]), session_factory, before, "not a well-formed JWT")


def test_unknown_kid_refreshes_the_platform_jwks_once(
    launcher: Launcher, platform: PlatformSimulator, client
) -> None:
    launcher.launch(TEACHER)  # the first launch fetches the platform's keys
    assert platform.jwks_requests == 1
    launcher.launch(LmsUser("u-101", roles=[ROLE_INSTRUCTOR]))  # cached
    assert platform.jwks_requests == 1
    for _ in range(3):  # forged tokens with fresh kids: one refresh, then no more requests
        pem, jwk_ = new_rsa_key()
        auth = launcher.login(TEACHER)
        token = platform.sign(platform.claims(TEACHER, auth["nonce"]), kid=jwk_["kid"], pem=pem)
        assert _post(client, token, auth["state"]).status_code == 400
    assert platform.jwks_requests == 2
    launcher.launch(LmsUser("u-102", roles=[ROLE_INSTRUCTOR]))  # the known key still works from the cache
    assert platform.jwks_requests == 2


# -- state and nonce -----------------------------------------------------------------------------------
def test_id_token_missing(launcher: Launcher, client, session_factory, before) -> None:
    auth = launcher.login(TEACHER)
    _assert_refused(_post(client, None, auth["state"]), session_factory, before, "has no id_token")


def test_state_missing(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]))
    _assert_refused(_post(client, token, None), session_factory, before, "has no state")


def test_state_wrong(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    """A state the tool never issued, even with a matching cookie (an attacker controls both)."""
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]))
    client.set_cookie("lti1p3-state-forged", "state-forged", path="/lti/")
    _assert_refused(
        _post(client, token, "state-forged"), session_factory, before, "already used or has expired"
    )


def test_state_of_another_login(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory, before
) -> None:
    first = launcher.login(TEACHER)
    second = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, first["nonce"]))
    _assert_refused(
        _post(client, token, second["state"]),
        session_factory,
        before,
        "nonce does not match its login request",
    )


def test_state_cookie_missing_offers_a_new_window(
    app, launcher: Launcher, platform: PlatformSimulator, session_factory, before
) -> None:
    """The browser kept no cookie in the LMS's iframe (e.g. Safari): the page offers a new window."""
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]))
    cookieless = app.test_client()
    response = _post(cookieless, token, auth["state"])
    _assert_refused(response, session_factory, before, "did not keep the launch's login state")
    link = re.search(r'<a [^>]*id="open-new-window"[^>]*>', response.get_data(as_text=True))
    assert link and 'target="_blank"' in link.group(0)
    href = html.unescape(re.search(r'href="([^"]+)"', link.group(0)).group(1))
    assert urlsplit(href).path == "/lti/login/new-window"

    # At the top level the browser keeps cookies: the same login starts again and the launch completes.
    again = cookieless.get(href)
    assert again.status_code == 303
    target = urlsplit(again.headers["Location"])
    assert target.path == "/lti/login"
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert params["login_hint"] == TEACHER.sub and params["iss"] == platform.issuer
    login = cookieless.get(again.headers["Location"])
    assert login.status_code == 302
    auth2 = auth_request_params(login.headers["Location"])
    assert auth2["state"] != auth["state"]
    done = _post(cookieless, platform.sign(platform.claims(TEACHER, auth2["nonce"])), auth2["state"])
    assert done.status_code == 303 and urlsplit(done.headers["Location"]).path == "/home"


def test_new_window_with_an_unknown_state_is_refused(client, platform: PlatformSimulator) -> None:
    response = client.get("/lti/login/new-window?state=state-unknown", headers=EN)
    assert response.status_code == 400
    assert "launch Tingke again from the LMS" in _text(response)


def test_replayed_token_is_refused(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory
) -> None:
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]))
    assert _post(client, token, auth["state"]).status_code == 303
    # The launch deleted its used state cookie, so the replay finds neither cookie nor state.
    assert client.get_cookie(f"lti1p3-{auth['state']}", path="/lti/") is None
    after_first = _rows(session_factory)
    _assert_refused(
        _post(client, token, auth["state"]),
        session_factory,
        after_first,
        "did not keep the launch's login state",
    )
    # With the cookie put back by hand, the consumed state is still gone.
    client.set_cookie(f"lti1p3-{auth['state']}", auth["state"], path="/lti/")
    _assert_refused(_post(client, token, auth["state"]), session_factory, after_first, "already used")


def test_replayed_token_from_a_fresh_browser_is_refused(
    app, launcher: Launcher, platform: PlatformSimulator, client, session_factory
) -> None:
    auth = launcher.login(TEACHER)
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]))
    assert _post(client, token, auth["state"]).status_code == 303
    after_first = _rows(session_factory)
    fresh = app.test_client()
    response = _post(fresh, token, auth["state"])
    _assert_refused(response, session_factory, after_first, "did not keep the launch's login state")
    assert 'id="open-new-window"' not in response.get_data(as_text=True)  # the login was consumed
    # Even with the state cookie copied into the fresh browser, the consumed state is gone.
    fresh.set_cookie(f"lti1p3-{auth['state']}", auth["state"], path="/lti/")
    _assert_refused(_post(fresh, token, auth["state"]), session_factory, after_first, "already used")


def test_two_simultaneous_posts_of_one_token(
    live_server: str, platform: PlatformSimulator, session_factory
) -> None:
    """Over real HTTP against the threaded server: exactly one of two simultaneous posts launches."""
    base = live_server.replace("localhost", "127.0.0.1")
    login = requests.post(
        f"{base}/lti/login", data=platform.login_params(TEACHER), allow_redirects=False, timeout=10
    )
    assert login.status_code == 302
    auth = auth_request_params(login.headers["Location"])
    cookie = (
        f"lti1p3-{auth['state']}={auth['state']}"  # Secure cookies: requests would not send them over http
    )
    token = platform.sign(platform.claims(TEACHER, auth["nonce"]))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        r = requests.post(
            f"{base}/lti/launch",
            data={"id_token": token, "state": auth["state"]},
            headers={"Cookie": cookie, **EN},
            allow_redirects=False,
            timeout=30,
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [303, 400]
    assert _rows(session_factory) == (1, 1)


# -- login initiation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_get_and_post(method: str, client, platform: PlatformSimulator, session_factory) -> None:
    params = platform.login_params(TEACHER)
    response = (
        client.get("/lti/login", query_string=params)
        if method == "GET"
        else client.post("/lti/login", data=params)
    )
    assert response.status_code == 302
    auth = auth_request_params(response.headers["Location"])
    assert response.headers["Location"].startswith(platform.urls["auth"])
    assert auth["client_id"] == platform.client_id and auth["login_hint"] == TEACHER.sub
    cookie = response.headers["Set-Cookie"]
    assert "Partitioned" in cookie and "Secure" in cookie and "SameSite=None" in cookie
    with session_factory() as s:
        assert s.get(LoginState, auth["state"]).nonce == auth["nonce"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iss": "https://evil.example"}, "not registered with Tingke"),
        ({"client_id": "unknown-client"}, "not registered with Tingke"),
        ({"login_hint": ""}, "has no 'login_hint'"),
        ({"target_link_uri": "https://evil.example/lti/launch"}, "does not point at this tool"),
    ],
    ids=["unknown_issuer", "unknown_client", "no_login_hint", "foreign_target"],
)
def test_login_refusals_are_4xx(
    change: dict[str, str], reason: str, client, platform: PlatformSimulator, session_factory
) -> None:
    params = platform.login_params(TEACHER)
    params.update(change)
    response = client.post("/lti/login", data=params, headers=EN)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert reason in _text(response)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(LoginState)) == 0


# -- no privilege from custom parameters ----------------------------------------------------------------
def test_custom_parameters_grant_nothing(
    launcher: Launcher, client, session_factory, institution_id: int
) -> None:
    with session_factory.begin() as s:
        s.add(Person(institution_id=institution_id, employee_no="S001", name="学生", email="s@jti.edu"))
    student = LmsUser("s-1", "Student", "s@jti.edu", "S001", [ROLE_LEARNER])
    custom = {
        "role": "quality_center",
        "persona": "quality_center",
        "tingke_page": "dashboard",
        "employee_no": "1001",
        "roles": ROLE_INSTRUCTOR,
    }
    result = launcher.launch(student, **{LTI + "custom": custom})
    assert urlsplit(result.response.headers["Location"]).path == "/home"
    with session_factory() as s:
        row = s.scalars(select(LaunchSession)).one()
        assert row.persona == "" and row.claims["personas"] == []
        assert row.claims["custom"] == {"tingke_page": "dashboard"}  # only the page choice is kept
    page = result.get(client, "/home")
    assert page.status_code == 200
    assert "quality_center" not in page.get_data(as_text=True)


def test_custom_parameters_cannot_name_the_person(
    launcher: Launcher, session_factory, institution_id: int
) -> None:
    with session_factory.begin() as s:
        s.add(Person(institution_id=institution_id, employee_no="1001", name="王校长", email="wang@jti.edu"))
    stranger = LmsUser("x-1", "Stranger", "x@elsewhere.edu", "", [ROLE_INSTRUCTOR])
    launcher.launch(stranger, **{LTI + "custom": {"person_sourcedid": "1001", "email": "wang@jti.edu"}})
    with session_factory() as s:
        assert s.scalars(select(PlatformUser)).one().person_id is None


# -- CSRF -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("csrf", [None, "0" * 32], ids=["missing", "wrong"])
def test_state_changing_post_needs_csrf(
    csrf: str | None, launcher: Launcher, client, session_factory
) -> None:
    result = launcher.launch(TEACHER)
    data = {"locale": "en"}
    if csrf is not None:
        data["csrf"] = csrf
    response = client.post(f"/home/locale?s={result.token}", data=data, headers=EN)
    assert response.status_code == 403
    with session_factory() as s:
        assert s.scalars(select(LaunchSession)).one().locale == "zh_CN"


def test_state_changing_post_with_csrf_succeeds(launcher: Launcher, client, session_factory) -> None:
    result = launcher.launch(TEACHER)
    page = result.get(client, "/home").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = client.post(f"/home/locale?s={result.token}", data={"locale": "en", "csrf": csrf})
    assert response.status_code == 303
    with session_factory() as s:
        assert s.scalars(select(LaunchSession)).one().locale == "en"


def test_csrf_token_of_another_session_is_refused(launcher: Launcher, client) -> None:
    mine = launcher.launch(TEACHER)
    other = launcher.launch(LmsUser("u-200", roles=[ROLE_INSTRUCTOR]))
    other_page = other.get(client, "/home").get_data(as_text=True)
    other_csrf = re.search(r'name="csrf" value="([^"]+)"', other_page).group(1)
    response = client.post(f"/home/locale?s={mine.token}", data={"locale": "en", "csrf": other_csrf})
    assert response.status_code == 403


# -- the session token ------------------------------------------------------------------------------------
def _serializer(settings, signer: type[TimestampSigner] = TimestampSigner) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="tingke-launch-session", signer=signer)


def _session_row(session_factory) -> LaunchSession:
    with session_factory() as s:
        return s.scalars(select(LaunchSession)).one()


def test_session_token_minted_with_the_secret_is_accepted(
    launcher: Launcher, client, settings, session_factory
) -> None:
    """Control for the forgeries below: a token built this way, with the right bindings, works."""
    launcher.launch(TEACHER, keep_cookie=False)
    row = _session_row(session_factory)
    token = _serializer(settings).dumps({"sid": row.id, "i": row.institution_id, "p": row.person_id, "e": 0})
    assert client.get(f"/home?s={token}").status_code == 200


def test_link_token_expires_after_minutes(launcher: Launcher, client, settings, session_factory) -> None:
    launcher.launch(TEACHER, keep_cookie=False)
    row = _session_row(session_factory)

    class Signed9HoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - settings.link_token_seconds - 60

    token = _serializer(settings, Signed9HoursAgo).dumps(
        {"sid": row.id, "i": row.institution_id, "p": row.person_id, "e": 0}
    )
    response = client.get(f"/home?s={token}", headers=EN)
    assert response.status_code == 401
    assert "Your session has expired" in _text(response)


def test_session_row_expired(launcher: Launcher, client, session_factory) -> None:
    result = launcher.launch(TEACHER, keep_cookie=False)
    with session_factory.begin() as s:
        s.execute(update(LaunchSession).values(expires_at=LaunchSession.created_at))
    assert result.get(client, "/home").status_code == 401


def test_session_token_tampered(launcher: Launcher, client) -> None:
    result = launcher.launch(TEACHER, keep_cookie=False)
    tampered = result.token[:-3] + ("aaa" if not result.token.endswith("aaa") else "bbb")
    assert client.get(f"/home?s={tampered}").status_code == 401
    assert client.get("/home").status_code == 401


@pytest.mark.parametrize("binding", ["institution", "person"])
def test_session_token_bound_to_institution_and_person(
    binding: str, launcher: Launcher, client, settings, session_factory, institution_id: int
) -> None:
    with session_factory.begin() as s:
        s.add(Person(institution_id=institution_id, employee_no="1001", name="王老师", email="wang@jti.edu"))
    launcher.launch(TEACHER, keep_cookie=False)
    row = _session_row(session_factory)
    assert row.person_id is not None
    data = {"sid": row.id, "i": row.institution_id, "p": row.person_id, "e": 0}
    data["i" if binding == "institution" else "p"] += 1000
    token = _serializer(settings).dumps(data)
    assert client.get(f"/home?s={token}").status_code == 401


# -- headers ---------------------------------------------------------------------------------------------
def test_frame_ancestors_lists_registered_platforms_only(
    launcher: Launcher, client, platform: PlatformSimulator, session_factory, settings
) -> None:
    from tests.conftest import register_platform

    second = PlatformSimulator(client_id="second-client").start()
    stranger = PlatformSimulator(client_id="stranger").start()
    try:
        register_platform(session_factory, settings, second, "JTI")
        result = launcher.launch(TEACHER, keep_cookie=False)
        # pages without a session (the launch, the configuration page): every registered platform
        for response in (client.get("/lti/config"), result.response):
            csp = response.headers["Content-Security-Policy"]
            ancestors = re.search(r"frame-ancestors ([^;]+)", csp).group(1).split()
            assert set(ancestors) == {"'self'", platform.base, second.base}
            assert stranger.base not in csp
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        # a session's pages: only the platform it was launched from (issue 13 §7)
        csp = result.get(client, "/home").headers["Content-Security-Policy"]
        ancestors = re.search(r"frame-ancestors ([^;]+)", csp).group(1).split()
        assert set(ancestors) == {"'self'", platform.base}
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    finally:
        second.stop()
        stranger.stop()


def test_referrer_policy_and_no_store(launcher: Launcher, client) -> None:
    result = launcher.launch(TEACHER)
    page = result.get(client, "/home")
    for response in (result.response, page, client.get("/lti/config")):
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"  # a page carrying the session token is not cached
