"""Names and Role Provisioning 2.0: the launching course's teachers, read from the simulated LMS.

The simulator's /token endpoint verifies the tool's client assertion against the tool's live JWKS, and
its /nrps endpoint wants the access token, so a passing test means the OAuth2 exchange really worked.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator

import jwt
import pytest

from lti_tool.actor import Actor
from lti_tool.directory.models import Person
from lti_tool.lti.nrps import SCOPE_NRPS, CourseMembersService
from lti_tool.lti.sessions import LaunchSessionService
from lti_tool.tenancy import Institution
from tests.support.launch import Launcher
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser, PlatformSimulator

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
OBSERVER = LmsUser("o-1", "王校长", "wang@jti.edu", "1001", [ROLE_LEARNER])


def member(
    user_id: str,
    *,
    sourcedid: str = "",
    email: str = "",
    roles: tuple[str, ...] = (INSTRUCTOR,),
    status: str = "Active",
) -> dict:
    return {
        "status": status,
        "name": user_id,
        "email": email,
        "user_id": user_id,
        "lis_person_sourcedid": sourcedid,
        "roles": list(roles),
    }


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    CourseMembersService.clear_cache()
    yield
    CourseMembersService.clear_cache()


@pytest.fixture
def roster(session_factory, institution_id: int) -> dict[str, int]:
    """Persons of institution JTI, and a person with the same employee number in another institution."""
    with session_factory.begin() as s:
        people = {
            no: Person(institution_id=institution_id, employee_no=no, name=name, email=email)
            for no, name, email in [
                ("1001", "王校长", "wang@jti.edu"),
                ("2001", "李老师", "li@jti.edu"),
                ("2002", "张老师", "zhang@jti.edu"),
                ("2003", "赵老师", "shared@jti.edu"),
                ("2004", "钱老师", "shared@jti.edu"),
                ("3001", "学生", "stu@jti.edu"),
            ]
        }
        s.add_all(people.values())
        other = Institution(code="ABC", name="Another college")
        s.add(other)
        s.flush()
        s.add(Person(institution_id=other.id, employee_no="2009", name="外校老师", email="out@abc.edu"))
        s.flush()
        return {no: p.id for no, p in people.items()}


def _actor(session_factory, settings, token: str) -> Actor:
    with session_factory() as s:
        return LaunchSessionService(
            s, settings.secret_key, settings.session_lifetime_seconds
        ).actor_from_token(token)


def _teachers(session_factory, settings, actor: Actor) -> list[int]:
    with session_factory() as s:
        return CourseMembersService(s, settings).course_teacher_ids(actor)


def test_course_teachers_are_matched_to_the_roster(
    launcher: Launcher, platform: PlatformSimulator, roster, session_factory, settings, live_server
) -> None:
    platform.members["course-1"] = [
        member("lms-li", sourcedid="2001", email="other@jti.edu"),  # by employee number
        member("lms-zhang", email="ZHANG@jti.edu"),  # by e-mail
        member("lms-shared", email="shared@jti.edu"),  # e-mail of two persons: nobody
        member("lms-out", sourcedid="2009", email="out@abc.edu"),  # another institution's person
        member("lms-stranger", sourcedid="9999"),  # not in the roster
        member("lms-student", sourcedid="3001", roles=(LEARNER,)),  # not a teacher
        member("lms-gone", sourcedid="1001", status="Inactive"),  # no longer in the course
        member(
            "lms-ta",
            sourcedid="1001",
            roles=("http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",),
        ),
    ]
    actor = _actor(session_factory, settings, launcher.launch(OBSERVER).token)
    assert _teachers(session_factory, settings, actor) == [roster["2001"], roster["2002"]]

    # The platform got a client assertion signed by a key the tool publishes, asking for the NRPS scope.
    assert len(platform.token_requests) == 1
    request = platform.token_requests[0]
    assert request["grant_type"] == "client_credentials" and SCOPE_NRPS in request["scope"].split()
    kid = jwt.get_unverified_header(request["client_assertion"])["kid"]
    jwks = launcher.client.get("/.well-known/jwks.json").get_json()
    assert kid in {k["kid"] for k in jwks["keys"]}


def test_token_and_members_are_cached(
    launcher: Launcher, platform: PlatformSimulator, roster, session_factory, settings
) -> None:
    platform.members["course-1"] = [member("lms-li", sourcedid="2001")]
    actor = _actor(session_factory, settings, launcher.launch(OBSERVER).token)
    assert _teachers(session_factory, settings, actor) == [roster["2001"]]
    platform.members["course-1"] = [member("lms-zhang", sourcedid="2002")]
    assert _teachers(session_factory, settings, actor) == [roster["2001"]]  # the cached list
    assert len(platform.token_requests) == 1

    CourseMembersService.clear_cache()
    assert _teachers(session_factory, settings, actor) == [roster["2002"]]
    assert len(platform.token_requests) == 2


def test_members_are_cached_per_course(
    launcher: Launcher, platform: PlatformSimulator, roster, session_factory, settings
) -> None:
    platform.members["course-1"] = [member("lms-li", sourcedid="2001")]
    platform.members["course-2"] = [member("lms-zhang", sourcedid="2002")]
    first = _actor(session_factory, settings, launcher.launch(OBSERVER).token)
    platform.context = {"id": "course-2", "label": "C2", "title": "Course 2"}
    second = _actor(session_factory, settings, launcher.launch(OBSERVER).token)
    assert _teachers(session_factory, settings, first) == [roster["2001"]]
    assert _teachers(session_factory, settings, second) == [roster["2002"]]
    assert len(platform.token_requests) == 1  # one access token for the platform


def test_no_membership_service_no_request(
    launcher: Launcher, platform: PlatformSimulator, roster, session_factory, settings
) -> None:
    platform.members["course-1"] = [member("lms-li", sourcedid="2001")]
    result = launcher.launch(OBSERVER, **{NRPS_CLAIM: {}})
    assert _teachers(session_factory, settings, _actor(session_factory, settings, result.token)) == []
    assert platform.token_requests == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers (a hung LMS)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize("failure", ["not_found", "unreachable", "timeout", "token_refused"])
def test_lms_failures_give_no_teachers(
    failure: str,
    launcher: Launcher,
    platform: PlatformSimulator,
    roster,
    session_factory,
    settings,
    silent_server: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform.members["course-1"] = [member("lms-li", sourcedid="2001")]
    url = {
        "not_found": f"{platform.base}/nope/course-1",
        "unreachable": f"http://127.0.0.1:{_closed_port()}/nrps/course-1",
        "timeout": f"{silent_server}/nrps/course-1",
        "token_refused": f"{platform.base}/nrps/course-1",
    }[failure]
    if failure == "token_refused":
        platform.tool_jwks_url = (
            f"{platform.base}/jwks"  # the LMS checks the assertion against the wrong keys
        )
    result = launcher.launch(
        OBSERVER, **{NRPS_CLAIM: {"context_memberships_url": url, "service_versions": ["2.0"]}}
    )
    actor = _actor(session_factory, settings, result.token)
    quick = dataclasses.replace(settings, http_timeout_seconds=0.3)
    with caplog.at_level(logging.WARNING, logger="lti_tool.lti.nrps"):
        assert _teachers(session_factory, quick, actor) == []
    assert any("NRPS" in r.getMessage() for r in caplog.records)


def test_cached_token_refused_is_fetched_again(
    launcher: Launcher, platform: PlatformSimulator, roster, session_factory, settings
) -> None:
    """A platform that restarted forgets its tokens: the next request fetches a new one instead of failing."""
    from lti_tool.lti import nrps

    platform.members["course-1"] = [member("lms-li", sourcedid="2001")]
    actor = _actor(session_factory, settings, launcher.launch(OBSERVER).token)
    assert _teachers(session_factory, settings, actor) == [roster["2001"]]
    for key in list(nrps._tokens._data):  # the LMS revoked the token the tool holds
        nrps._tokens.set(key, "revoked", 300)
    nrps._members.clear()
    assert _teachers(session_factory, settings, actor) == [roster["2001"]]
    assert len(platform.token_requests) == 2


def test_instructor_launch_sees_its_course(
    launcher: Launcher, platform: PlatformSimulator, roster, session_factory, settings
) -> None:
    """An Instructor's own launch works the same (the picker asks for any actor in a course)."""
    platform.members["course-1"] = [member("lms-li", sourcedid="2001"), member("lms-zhang", sourcedid="2002")]
    teacher = LmsUser("lms-li", "李老师", "li@jti.edu", "2001", [ROLE_INSTRUCTOR])
    actor = _actor(session_factory, settings, launcher.launch(teacher).token)
    assert sorted(_teachers(session_factory, settings, actor)) == sorted([roster["2001"], roster["2002"]])
