"""LTI Dynamic Registration as Moodle 4.x runs it, against the simulated LMS over real HTTP.

Moodle opens the tool's registration URL with ``openid_configuration`` and ``registration_token``; the
tool reads the configuration, posts its own to the registration endpoint, stores the platform and tells
Moodle to close the dialog. The URL carries the institution's registration key: without it nobody can
register an "LMS" of their own for an institution.
"""

from __future__ import annotations

import dataclasses
import html
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.wrappers import Request, Response

from lti_tool.lti.models import Platform
from lti_tool.lti.registration import RegistrationService
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from tests.support.launch import Launcher
from tests.support.platform import ROLE_ADMIN, ROLE_INSTRUCTOR, LmsUser, PlatformSimulator

EN = {"Accept-Language": "en"}
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"


class CountingLms(PlatformSimulator):
    """Counts reads of its openid configuration (to prove a refused URL makes no outbound request)."""

    openid_reads = 0

    def _openid(self, request: Request) -> Response:
        self.openid_reads += 1
        return super()._openid(request)


class ForeignIssuerLms(PlatformSimulator):
    """Its configuration claims an issuer on another host than the one serving it."""

    def _openid(self, request: Request) -> Response:
        data = json.loads(super()._openid(request).get_data())
        data["issuer"] = "https://lms.example.org"
        return Response(json.dumps(data), content_type="application/json")


@pytest.fixture
def lms(settings, institution_id: int, tool_key: str, live_server: str) -> Iterator[CountingLms]:
    sim = CountingLms(client_id="dyn-client-7", deployment_id="7").start()
    sim.tool_base = settings.base_url
    sim.tool_jwks_url = f"{live_server}/.well-known/jwks.json"
    yield sim
    sim.stop()


def _register_path(session_factory, settings, code: str = "JTI") -> str:
    with session_factory() as s:
        return urlsplit(RegistrationService(s, settings).urls(code)["registration_url"]).path


def _get(client, path: str, openid: str, token: str = "reg-token"):
    return client.get(
        f"{path}?{urlencode({'openid_configuration': openid, 'registration_token': token})}", headers=EN
    )


def _platforms(session_factory) -> int:
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(Platform)) or 0)


def test_dynamic_registration_then_launch(
    client, lms: CountingLms, session_factory, settings, institution_id: int
) -> None:
    assert lms.base not in client.get("/lti/config").headers["Content-Security-Policy"]  # origins now cached
    response = _get(client, _register_path(session_factory, settings), lms.urls["openid"])
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert "data-lti-close" in page and "lti_close.js" in page  # posts org.imsglobal.lti.close
    # Moodle shows the registration in an iframe: the new LMS may frame the page that closes it.
    assert lms.base in response.headers["Content-Security-Policy"].split("frame-ancestors", 1)[1]

    with session_factory() as s:
        platform = s.scalars(select(Platform)).one()
        assert (platform.institution_id, platform.issuer, platform.client_id) == (
            institution_id,
            lms.issuer,
            "dyn-client-7",
        )
        assert [d.deployment_id for d in platform.deployments] == ["7"]
        assert (platform.auth_login_url, platform.auth_token_url, platform.key_set_url) == (
            lms.urls["auth"],
            lms.urls["token"],
            lms.urls["jwks"],
        )

    posted = lms.registrations[0]
    base = settings.base_url
    assert posted["initiate_login_uri"] == f"{base}/lti/login"
    assert posted["redirect_uris"] == [f"{base}/lti/launch"]
    assert posted["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert posted["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_credentials" in posted["grant_types"] and posted["response_types"] == ["id_token"]
    assert NRPS_SCOPE in posted["scope"].split()
    conf = posted[TOOL_CONFIG]
    assert "LtiDeepLinkingRequest" in {m["type"] for m in conf["messages"]}
    # Moodle's privacy settings follow these claims: name and e-mail; the ID number travels in lis.
    assert {"name", "email", "https://purl.imsglobal.org/spec/lti/claim/lis"} <= set(conf["claims"])
    assert conf["target_link_uri"] == f"{base}/lti/launch"
    # Moodle 5.0 compares the domain with target_link_uri's host and port (the simulator refuses otherwise).
    assert conf["domain"] == urlsplit(base).netloc and ":" in conf["domain"]

    # The freshly registered LMS launches.
    result = Launcher(client, lms).launch(LmsUser("dyn-1", "王老师", "w@jti.edu", "", [ROLE_INSTRUCTOR]))
    assert urlsplit(result.response.headers["Location"]).path == "/home"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_token", "refused the registration request"),
        ("unreachable", "openid-configuration could not be read"),
        ("not_json", "openid-configuration could not be read"),
        ("issuer_mismatch", "issuer does not match its address"),
    ],
)
def test_registration_failures_store_nothing(
    case: str, reason: str, client, lms: CountingLms, session_factory, settings
) -> None:
    path = _register_path(session_factory, settings)
    foreign = ForeignIssuerLms().start()
    try:
        openid = {
            "wrong_token": lms.urls["openid"],
            "unreachable": f"http://127.0.0.1:{_closed_port()}/openid",
            "not_json": f"{lms.base}/course",
            "issuer_mismatch": foreign.urls["openid"],
        }[case]
        response = _get(client, path, openid, token="wrong-token" if case == "wrong_token" else "reg-token")
    finally:
        foreign.stop()
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert reason in html.unescape(response.get_data(as_text=True))
    assert _platforms(session_factory) == 0


@pytest.mark.parametrize("case", ["no_key", "wrong_key", "other_institutions_key"])
def test_registration_url_needs_the_institutions_key(
    case: str, client, lms: CountingLms, session_factory, settings
) -> None:
    with session_factory.begin() as s:
        other = Institution(code="ABC", name="Another college")
        s.add(other)
        s.flush()
        PolicyStore(s, other.id).ensure_version()
    path = {
        "no_key": "/lti/register/JTI",
        "wrong_key": "/lti/register/JTI/" + "0" * 32,
        "other_institutions_key": "/lti/register/JTI/"
        + _register_path(session_factory, settings, "ABC").rsplit("/", 1)[1],
    }[case]
    response = _get(client, path, lms.urls["openid"])
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "registration URL is incomplete" in html.unescape(response.get_data(as_text=True))
    assert lms.openid_reads == 0 and lms.registrations == []  # refused before any outbound request
    assert _platforms(session_factory) == 0


class MoodleRefusingLms(CountingLms):
    """Answers the registration as Moodle 5.0 does when the domain does not match: 400 and a reason code."""

    def _register(self, request: Request) -> Response:
        return Response("domain_targetlinkuri_mismatch", status=400)


def test_registration_page_shows_the_platforms_reason_for_refusing(
    client, settings, session_factory, institution_id: int, tool_key: str, live_server: str
) -> None:
    refusing = MoodleRefusingLms().start()
    try:
        response = _get(client, _register_path(session_factory, settings), refusing.urls["openid"])
    finally:
        refusing.stop()
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "HTTP 400" in page and "domain_targetlinkuri_mismatch" in page
    assert "TINGKE_BASE_URL" in page  # what to do about it
    assert _platforms(session_factory) == 0


@pytest.mark.parametrize(
    ("base_url", "domain"),
    [
        ("http://localhost:5100", "localhost:5100"),
        ("https://tingke.jti.edu.cn", "tingke.jti.edu.cn"),
        ("https://Tingke.JTI.edu.cn:443/", "tingke.jti.edu.cn"),
        ("http://10.0.0.5:80", "10.0.0.5"),
        ("https://tingke.jti.edu.cn:8443", "tingke.jti.edu.cn:8443"),
        ("http://[::1]:5100", "[::1]:5100"),
    ],
)
def test_registration_domain_carries_the_port_when_not_the_default(
    base_url: str, domain: str, settings, session_factory
) -> None:
    with session_factory() as s:
        service = RegistrationService(s, dataclasses.replace(settings, base_url=base_url))
        assert service.tool_configuration()[TOOL_CONFIG]["domain"] == domain


def test_registration_without_openid_configuration_is_explained(
    client, lms: CountingLms, session_factory, settings
) -> None:
    response = client.get(_register_path(session_factory, settings), headers=EN)
    assert response.status_code == 400
    assert "Tool URL" in html.unescape(response.get_data(as_text=True))


def test_configuration_page_shows_the_registration_url_to_the_quality_center_only(
    client, platform: PlatformSimulator, launcher: Launcher, session_factory, settings
) -> None:
    secret_path = _register_path(session_factory, settings)
    anonymous = client.get("/lti/config").get_data(as_text=True)
    assert secret_path not in anonymous
    assert (
        f"{settings.base_url}/lti/login" in anonymous
        and f"{settings.base_url}/.well-known/jwks.json" in anonymous
    )

    teacher = launcher.launch(LmsUser("t-1", roles=[ROLE_INSTRUCTOR]))
    assert secret_path not in teacher.get(client, "/lti/config").get_data(as_text=True)
    admin = launcher.launch(LmsUser("a-1", roles=[ROLE_ADMIN]))  # the LMS administrator: quality center
    assert secret_path in admin.get(client, "/lti/config").get_data(as_text=True)
