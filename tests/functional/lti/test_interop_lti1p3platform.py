"""Interoperability: Tingke launched by an LTI 1.3 platform none of us wrote (``lti1p3platform``, PyPI).

Our simulator (tests/support/platform.py) signs what we think the spec says; this LMS signs what another
author thinks it says (tests/support/lti1p3platform_lms.py). It is registered the way an administrator
registers an LMS (``tingke platform add``), and a browser-like HTTP client drives the real flow on
loopback: the LMS's login initiation link (a GET, as the library builds it) → Tingke's redirect to the
LMS's authentication endpoint, where the library checks the request and signs the id_token for the
returned state and nonce → the auto-posted form to /lti/launch with the state cookie → the home page of
the roster person the launch maps to. Deep linking and Names and Role Provisioning go through the
library's own endpoints, which verify what Tingke signs against Tingke's published JWKS.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from http.cookiejar import Cookie
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from requests.cookies import RequestsCookieJar
from sqlalchemy import func, select

from lti_tool.directory.models import PlatformUser
from lti_tool.lti.models import LaunchSession
from lti_tool.lti.nrps import CourseMembersService
from lti_tool.lti.sessions import LaunchSessionService
from tests.support import factories
from tests.support.cli import Run, cli_runner
from tests.support.lti1p3platform_lms import (
    DEEP,
    LTI,
    RESOURCE,
    ROLE_INSTRUCTOR,
    ROLE_LEARNER,
    ForeignLms,
    ForeignUser,
)

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


# -- the browser ------------------------------------------------------------------------------------------
class _LocalhostJar(RequestsCookieJar):
    """Browsers treat http://localhost as a secure context and send it the cookies it marks ``Secure``
    (the tool runs there in tests); Python's cookie jar would send those over https only."""

    def set_cookie(self, cookie: Cookie, *args: Any, **kwargs: Any) -> None:
        if cookie.domain in ("localhost", "localhost.local"):
            cookie.secure = False
        super().set_cookie(cookie, *args, **kwargs)


class _Forms(HTMLParser):
    """The forms of a page: action and the values of their named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][1][values["name"]] = values.get("value", "")


def _form(page: requests.Response, field: str) -> tuple[str, dict[str, str]]:
    """The page's first form with an input named ``field``: its absolute action and its input values."""
    parser = _Forms()
    parser.feed(page.text)
    found = [(action, fields) for action, fields in parser.forms if field in fields]
    assert found, page.text
    action, fields = found[0]
    return urljoin(page.url, action), fields


class Browser:
    """What the test needs of a browser: cookies, redirects, and posting the auto-submitted forms."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self.http.cookies = _LocalhostJar()

    def open(self, url: str) -> requests.Response:
        return self.http.get(url, timeout=30)

    def submit(self, page: requests.Response, field: str = "id_token") -> requests.Response:
        """Post the form with ``field`` as the page's script would, without following a redirect."""
        action, fields = _form(page, field)
        return self.http.post(action, data=fields, allow_redirects=False, timeout=30)

    def follow(self, response: requests.Response) -> requests.Response:
        assert response.status_code in (302, 303), response.text
        return self.open(urljoin(response.url, response.headers["Location"]))


def _session_token(response: requests.Response) -> str:
    return parse_qs(urlsplit(response.headers["Location"]).query)["s"][0]


# -- fixtures -----------------------------------------------------------------------------------------------
@pytest.fixture
def run(database_url: str, settings, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``tingke …`` as the console script runs it, on the test database."""
    return cli_runner(
        monkeypatch, database_url, settings.instance_path, settings.secret_key, settings.base_url
    )


@pytest.fixture
def lms(run: Run, settings, institution_id: int, tool_key: str, live_server: str) -> Iterator[ForeignLms]:
    """The foreign LMS, registered with Tingke by an administrator's ``tingke platform add``."""
    foreign = ForeignLms(live_server).start()
    added = run(
        "platform",
        "add",
        "--institution",
        "JTI",
        "--issuer",
        foreign.issuer,
        "--client-id",
        foreign.client_id,
        "--deployment-id",
        foreign.deployment_id,
        "--auth-url",
        foreign.urls["auth"],
        "--token-url",
        foreign.urls["token"],
        "--jwks-url",
        foreign.urls["jwks"],
        "--name",
        "lti1p3platform LMS",
    )
    assert added.exit_code == 0, added.output
    CourseMembersService.clear_cache()
    yield foreign
    CourseMembersService.clear_cache()
    foreign.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    one = Browser()
    yield one
    one.http.close()


@pytest.fixture
def roster(session_factory, institution_id: int) -> dict[str, int]:
    """A school leader (observation duties: rule O-1) and a teacher, by employee number."""
    with session_factory.begin() as s:
        leader = factories.person(
            s, institution_id, "王校长", employee_no="1001", email="wang@jti.edu", positions=["school_leader"]
        )
        teacher = factories.person(s, institution_id, "李老师", employee_no="2001", email="li@jti.edu")
        return {"1001": leader.id, "2001": teacher.id}


LEADER_BY_SOURCEDID = ForeignUser("lms-u-17", "王校长", "", "1001", [ROLE_LEARNER])
LEADER_BY_EMAIL = ForeignUser("lms-u-18", "Wang", "WANG@jti.edu", "", [ROLE_LEARNER])
STUDENT = ForeignUser("lms-s-3", "学生甲", "s3@stu.jti.edu", "S20230003", [ROLE_LEARNER])
TEACHER = ForeignUser("lms-t-5", "李老师", "li@jti.edu", "", [ROLE_INSTRUCTOR])


def _launch(browser: Browser, lms: ForeignLms, user: ForeignUser, kind: str = RESOURCE) -> requests.Response:
    """The flow up to the LMS's auto-posting launch form (not yet posted)."""
    page = browser.open(lms.start_url(user, kind))
    assert page.status_code == 200, page.text
    start, login = page.history  # LMS link → Tingke's login (as a GET, the way the library builds it)
    assert start.status_code == 302 and login.status_code == 302
    assert login.request.method == "GET" and urlsplit(login.url).path == "/lti/login"
    assert page.url.startswith(lms.urls["auth"])  # the library accepted Tingke's authentication request
    return page


# -- the tests ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("user", [LEADER_BY_SOURCEDID, LEADER_BY_EMAIL], ids=["sourcedid", "email"])
def test_observer_lands_on_their_home_page(
    lms: ForeignLms, roster, session_factory, browser: Browser, user: ForeignUser
) -> None:
    launch = browser.submit(_launch(browser, lms, user))
    assert launch.status_code == 303, launch.text
    home = browser.follow(launch)
    assert home.status_code == 200
    assert urlsplit(home.url).path == "/home"
    assert "我的听课任务" in home.text and "O-1" in home.text and "王校长" in home.text
    assert lms.jwks_requests >= 1  # the signature was checked against the library's JWKS
    with session_factory() as s:
        linked = s.scalars(select(PlatformUser).where(PlatformUser.lti_user_id == user.user_id)).one()
        assert linked.person_id == roster["1001"]


def test_learner_gets_the_polite_page(lms: ForeignLms, roster, browser: Browser) -> None:
    home = browser.follow(browser.submit(_launch(browser, lms, STUDENT)))
    assert home.status_code == 200
    assert "学生在这里可以写信给校领导" in home.text and "/outreach/letters/new" in home.text


def test_deep_linking_round_trip_verified_by_the_library(lms: ForeignLms, roster, browser: Browser) -> None:
    lms.deep_link_data = {"csrf": "lms-7f3a", "section": 3}
    launch = browser.submit(_launch(browser, lms, TEACHER, DEEP))
    assert launch.status_code == 303, launch.text
    picker = browser.follow(launch)
    assert urlsplit(picker.url).path == "/lti/deep-link"
    action, fields = _form(picker, "title")
    answer = browser.http.post(action, data={**fields, "target": "pick", "title": "听课：选课"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return_url, fields = _form(answer, "JWT")
    assert return_url == f"{lms.base}/deep-link-return" and set(fields) == {"JWT"}

    returned = browser.http.post(return_url, data=fields, timeout=30)  # the page's auto-post
    assert returned.status_code == 200, returned.text
    [record] = lms.deep_link_returns
    assert record.status == 200, record.error  # signature checked by the library against Tingke's JWKS
    [item] = record.content_items
    assert item["type"] == "ltiResourceLink" and item["url"] == lms.tool_launch_url
    assert item["custom"] == {"tingke_page": "pick"} and item["title"] == "听课：选课"
    payload = record.payload
    audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
    assert payload["iss"] == lms.client_id and audiences == [lms.issuer]
    assert payload[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert payload[LTI + "deployment_id"] == lms.deployment_id
    assert payload[DL + "data"] == lms.deep_link_data  # the opaque value, returned as it came


def test_replayed_id_token_is_refused(lms: ForeignLms, roster, session_factory, browser: Browser) -> None:
    page = _launch(browser, lms, LEADER_BY_SOURCEDID)
    action, fields = _form(page, "id_token")
    assert browser.submit(page).status_code == 303

    # The same post again, with the state cookie put back: the state was consumed by the first launch.
    cookie = f"lti1p3-{fields['state']}={fields['state']}"
    again = requests.post(
        action,
        data=fields,
        headers={"Cookie": cookie, "Accept-Language": "en"},
        allow_redirects=False,
        timeout=30,
    )
    assert again.status_code == 400 and "already used" in again.text

    # The same id_token under the state of a new login: that login's nonce is not the token's.
    fresh = _form(_launch(browser, lms, LEADER_BY_SOURCEDID), "id_token")[1]
    stolen = browser.http.post(
        action,
        data={"id_token": fields["id_token"], "state": fresh["state"]},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
        timeout=30,
    )
    assert stolen.status_code == 400 and "nonce" in stolen.text
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(LaunchSession)) == 1


def test_names_and_roles_from_the_library(
    lms: ForeignLms, roster, session_factory, settings, browser: Browser
) -> None:
    lms.members = [
        {"user_id": "lms-t-5", "roles": [ROLE_INSTRUCTOR], "name": "李老师", "lis_person_sourcedid": "2001"},
        {"user_id": "lms-s-3", "roles": [ROLE_LEARNER], "name": "学生甲"},
    ]
    launch = browser.submit(_launch(browser, lms, LEADER_BY_SOURCEDID))
    assert launch.status_code == 303
    with session_factory() as s:
        actor = LaunchSessionService(
            s, settings.secret_key, settings.session_lifetime_seconds
        ).actor_from_token(_session_token(launch))
        assert actor.claims.nrps_url == lms.memberships_url
        # The library's token endpoint verified Tingke's client assertion against Tingke's JWKS, and its
        # membership endpoint verified the access token it issued.
        assert CourseMembersService(s, settings).course_teacher_ids(actor) == [roster["2001"]]
    assert lms.token_requests == 1
