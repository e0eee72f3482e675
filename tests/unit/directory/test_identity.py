"""Mapping a launching LMS user to a roster person (issue 2 §6): lis.person_sourcedid (Moodle's ID number
= 工号), then e-mail, never a custom parameter; remembered once matched; linked by hand otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from lti_tool.directory.identity import IdentityService
from lti_tool.directory.models import Person
from lti_tool.errors import BadRequest, NotFound
from lti_tool.lti.claims import LaunchClaims
from lti_tool.lti.models import Platform
from lti_tool.tenancy import Institution

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def claims(
    sub: str, sourcedid: str = "", email: str = "", custom: dict[str, str] | None = None
) -> LaunchClaims:
    return LaunchClaims(
        message_type="LtiResourceLinkRequest",
        user_id=sub,
        roles=[INSTRUCTOR],
        name=sub,
        email=email,
        person_sourcedid=sourcedid,
        custom=custom or {},
    )


def add_platform(
    session: Session, institution_id: int, issuer: str = "https://moodle.jti.edu.cn"
) -> Platform:
    platform = Platform(
        institution_id=institution_id,
        issuer=issuer,
        client_id="c",
        auth_login_url=issuer + "/a",
        auth_token_url=issuer + "/t",
        key_set_url=issuer + "/k",
    )
    session.add(platform)
    session.flush()
    return platform


def add_person(session: Session, institution_id: int, no: str, email: str | None = None) -> Person:
    person = Person(institution_id=institution_id, employee_no=no, name=f"P{no}", email=email)
    session.add(person)
    session.flush()
    return person


@pytest.fixture
def service(db_session, institution_id) -> IdentityService:
    return IdentityService(db_session, institution_id)


@pytest.fixture
def platform_id(db_session, institution_id) -> int:
    return add_platform(db_session, institution_id).id


def test_sourcedid_first_then_email(db_session, institution_id, service, platform_id) -> None:
    by_no = add_person(db_session, institution_id, "1001", "a@jti.edu.cn")
    by_mail = add_person(db_session, institution_id, "1002", "b@jti.edu.cn")
    # the ID number wins even when the e-mail names somebody else
    assert service.resolve(platform_id, claims("u1", "1001", "b@jti.edu.cn")).person_id == by_no.id
    assert service.resolve(platform_id, claims("u2", "", "B@JTI.edu.cn")).person_id == by_mail.id
    assert service.resolve(platform_id, claims("u3", "9999", "nobody@jti.edu.cn")).person_id is None


def test_an_email_shared_by_two_people_identifies_nobody(
    db_session, institution_id, service, platform_id
) -> None:
    add_person(db_session, institution_id, "1001", "office@jti.edu.cn")
    add_person(db_session, institution_id, "1002", "office@jti.edu.cn")
    assert service.resolve(platform_id, claims("u1", "", "office@jti.edu.cn")).person_id is None


def test_custom_parameters_never_identify(db_session, institution_id, service, platform_id) -> None:
    add_person(db_session, institution_id, "1001")
    forged = {"employee_no": "1001", "person_sourcedid": "1001"}
    user = service.resolve(platform_id, claims("u1", custom=forged))
    assert user.person_id is None


def test_another_institutions_roster_is_never_matched(db_session, institution_id, platform_id) -> None:
    other = Institution(code="OTH", name="另一所学院")
    db_session.add(other)
    db_session.flush()
    add_person(db_session, other.id, "1001", "a@jti.edu.cn")
    service = IdentityService(db_session, institution_id)
    user = service.resolve(platform_id, claims("u1", "1001", "a@jti.edu.cn"))
    assert user.person_id is None


def test_match_is_remembered_and_the_same_lms_user_is_one_row(
    db_session, institution_id, service, platform_id
) -> None:
    person = add_person(db_session, institution_id, "1001")
    first = service.resolve(platform_id, claims("u1", "1001"))
    # Moodle's ID number later cleared: the remembered link still holds, and no second row appears
    again = service.resolve(platform_id, claims("u1", ""))
    assert again.id == first.id and again.person_id == person.id


def test_link_by_hand_and_unmatched_list(db_session, institution_id, service, platform_id) -> None:
    person = add_person(db_session, institution_id, "1001")
    user = service.resolve(platform_id, claims("u1", "", "x@elsewhere.cn"))
    assert [u.id for u in service.unmatched()] == [user.id] and service.unmatched_count() == 1
    with pytest.raises(NotFound):
        service.link(user.id, "9999")
    with pytest.raises(BadRequest):
        service.link(user.id, "  ")
    linked = service.link(user.id, " 1001 ")
    assert linked.person_id == person.id and linked.linked_by_hand
    assert service.unmatched() == [] and service.unmatched_count() == 0


def test_link_refuses_another_institutions_lms_user(db_session, institution_id, platform_id) -> None:
    other = Institution(code="OTH", name="另一所学院")
    db_session.add(other)
    db_session.flush()
    other_platform = add_platform(db_session, other.id, "https://moodle.oth.edu.cn")
    stranger = IdentityService(db_session, other.id).resolve(other_platform.id, claims("u1"))
    add_person(db_session, institution_id, "1001")
    with pytest.raises(NotFound):
        IdentityService(db_session, institution_id).link(stranger.id, "1001")
    assert IdentityService(db_session, institution_id).unmatched() == []
