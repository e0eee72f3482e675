"""Deep Linking 2.0 end to end, and the landing page a resource link's ``tingke_page`` chooses.

A teacher adds Tingke through Moodle's "Select content": the deep-linking launch opens the selection page,
the POST answers with a form that auto-posts a JWT signed by the tool's key to the platform's return URL.
The test verifies that JWT with the tool's public JWKS like a platform would.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from jwcrypto.jwk import JWK
from sqlalchemy import func, select

from lti_tool.directory.models import Person, PlatformUser, PositionHolding
from lti_tool.lti import views as lti_views
from lti_tool.lti.models import LaunchSession
from tests.support.launch import Launcher
from tests.support.platform import LTI, ROLE_ADMIN, ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser, PlatformSimulator

DEEP = "LtiDeepLinkingRequest"
TEACHER = LmsUser("t-1", "李老师", "li@jti.edu", "", [ROLE_INSTRUCTOR])


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _select_content(client, launcher: Launcher, user: LmsUser, target: str, title: str = "听课 Tingke"):
    result = launcher.launch(user, message_type=DEEP)
    assert urlsplit(result.response.headers["Location"]).path == "/lti/deep-link"
    page = client.get(result.response.headers["Location"])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'name="target"' in text and 'value="pick"' in text
    return client.post(
        f"/lti/deep-link?s={result.token}", data={"csrf": _csrf(text), "target": target, "title": title}
    )


def _form(response) -> tuple[str, str]:
    text = response.get_data(as_text=True)
    form = re.search(r'<form [^>]*action="([^"]+)"[^>]*data-autopost', text)
    assert form, text
    token = re.search(r'name="JWT" value="([^"]+)"', text)
    assert token, text
    return html.unescape(form.group(1)), token.group(1)


def _verify_with_tool_jwks(client, token: str, audience: str) -> dict:
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys if k["kid"] == kid)  # StopIteration: the kid is not published
    return jwt.decode(token, JWK(**key).export_to_pem(), algorithms=["RS256"], audience=audience)


def test_deep_linking_round_trip(client, launcher: Launcher, platform: PlatformSimulator, settings) -> None:
    response = _select_content(client, launcher, TEACHER, "pick", "听课：选课")
    assert response.status_code == 200
    return_url, token = _form(response)
    assert return_url == f"{platform.base}/deep-link-return"

    claims = _verify_with_tool_jwks(client, token, platform.issuer)
    assert claims["iss"] == platform.client_id
    assert claims["aud"] == [platform.issuer]
    assert claims[LTI + "deployment_id"] == platform.deployment_id
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "dl-data-1"  # echoed
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert len(items) == 1
    item = items[0]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == f"{settings.base_url}/lti/launch"  # per-link data is never in the URL
    assert item["custom"] == {"tingke_page": "pick"}
    assert item["title"] == "听课：选课"

    # What the browser's auto-post does: the platform receives the JWT.
    requests.post(return_url, data={"JWT": token}, timeout=10)
    assert platform.deep_link_returns == [{"JWT": token}]


def test_platform_administrator_may_deep_link(
    client, launcher: Launcher, platform: PlatformSimulator
) -> None:
    admin = LmsUser("a-1", "Admin", "admin@jti.edu", "", [ROLE_ADMIN])
    response = _select_content(client, launcher, admin, "dashboard")
    assert response.status_code == 200
    claims = _verify_with_tool_jwks(client, _form(response)[1], platform.issuer)
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]["custom"] == {
        "tingke_page": "dashboard"
    }


def test_unknown_target_falls_back_to_home(client, launcher: Launcher, platform: PlatformSimulator) -> None:
    response = _select_content(client, launcher, TEACHER, "../admin")
    claims = _verify_with_tool_jwks(client, _form(response)[1], platform.issuer)
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]["custom"] == {
        "tingke_page": "home"
    }


def test_learner_deep_linking_launch_is_refused(
    launcher: Launcher, platform: PlatformSimulator, client, session_factory
) -> None:
    student = LmsUser("s-1", "Student", "s@jti.edu", "S001", [ROLE_LEARNER])
    auth = launcher.login(student)
    token = platform.sign(platform.claims(student, auth["nonce"], message_type=DEEP))
    response = client.post(
        "/lti/launch", data={"id_token": token, "state": auth["state"]}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 403
    assert "Only teachers and administrators" in html.unescape(response.get_data(as_text=True))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(LaunchSession)) == 0
        assert s.scalar(select(func.count()).select_from(PlatformUser)) == 0


def test_deep_link_response_needs_csrf(client, launcher: Launcher) -> None:
    result = launcher.launch(TEACHER, message_type=DEEP)
    response = client.post(f"/lti/deep-link?s={result.token}", data={"target": "pick", "title": "x"})
    assert response.status_code == 403


def test_resource_link_session_cannot_answer_a_deep_link(client, launcher: Launcher) -> None:
    result = launcher.launch(TEACHER)
    csrf = _csrf(result.get(client, "/home").get_data(as_text=True))
    response = client.post(f"/lti/deep-link?s={result.token}", data={"csrf": csrf, "target": "pick"})
    assert response.status_code == 403


def test_deep_linking_request_without_return_url_is_refused(
    launcher: Launcher, platform: PlatformSimulator, client
) -> None:
    auth = launcher.login(TEACHER)
    body = platform.claims(TEACHER, auth["nonce"], message_type=DEEP)
    body["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]["deep_link_return_url"] = (
        "javascript:alert(1)"
    )
    response = client.post("/lti/launch", data={"id_token": platform.sign(body), "state": auth["state"]})
    assert response.status_code == 400


# -- landing on the page a resource link names ---------------------------------------------------------
@pytest.fixture
def observer(session_factory, institution_id: int) -> LmsUser:
    with session_factory.begin() as s:
        leader = Person(
            institution_id=institution_id, employee_no="1001", name="王校长", email="wang@jti.edu"
        )
        leader.positions.append(PositionHolding(institution_id=institution_id, position_code="school_leader"))
        s.add(leader)
    return LmsUser("o-1", "王校长", "wang@jti.edu", "1001", [ROLE_LEARNER])


def _landing(launcher: Launcher, user: LmsUser, page: str) -> str:
    result = launcher.launch(user, **{LTI + "custom": {"tingke_page": page}})
    return urlsplit(result.response.headers["Location"]).path


def test_tingke_page_pick_lands_an_observer_on_the_pick_page(
    app, launcher: Launcher, observer: LmsUser, client, session_factory
) -> None:
    result = launcher.launch(observer, **{LTI + "custom": {"tingke_page": "pick"}})
    location = result.response.headers["Location"]
    with app.test_request_context():
        assert urlsplit(location).path == app.url_for("timetable.pick")
    with session_factory() as s:
        assert s.scalars(select(LaunchSession)).one().persona == "observer"
    assert client.get(location).status_code == 200


def test_tingke_page_is_ignored_for_a_persona_it_is_not_for(launcher: Launcher, observer: LmsUser) -> None:
    assert _landing(launcher, observer, "dashboard") == "/home"  # an observer is not the quality center
    assert _landing(launcher, LmsUser("s-2", roles=[ROLE_LEARNER]), "pick") == "/home"


def test_tingke_page_whose_endpoint_does_not_exist_lands_on_home(
    launcher: Launcher, observer: LmsUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(lti_views.LANDING_ENDPOINTS, "pick", "nowhere.pick")
    assert _landing(launcher, observer, "pick") == "/home"


def test_unknown_tingke_page_lands_on_home(launcher: Launcher, observer: LmsUser) -> None:
    assert _landing(launcher, observer, "directory.people") == "/home"
