"""Launch claims become one typed object; odd shapes count as absent instead of raising (never a 500)."""

from __future__ import annotations

from lti_tool.lti.claims import (
    CLAIM_CONTEXT,
    CLAIM_CUSTOM,
    CLAIM_DL_SETTINGS,
    CLAIM_LIS,
    CLAIM_MESSAGE_TYPE,
    CLAIM_NRPS,
    CLAIM_ROLES,
    ROLE_INSTRUCTOR,
    ROLE_LEARNER,
    ROLE_SYS_ADMIN,
    LaunchClaims,
)


def test_typed_claims() -> None:
    claims = LaunchClaims.from_jwt(
        {
            "sub": "u1",
            "name": "王老师",
            "email": " Wang@JTI.edu ",
            CLAIM_MESSAGE_TYPE: "LtiResourceLinkRequest",
            CLAIM_ROLES: [ROLE_INSTRUCTOR],
            CLAIM_LIS: {"person_sourcedid": " 1001 ", "course_offering_sourcedid": "C1"},
            CLAIM_CONTEXT: {"id": "c", "label": "L", "title": "T"},
            CLAIM_CUSTOM: {"tingke_page": "pick", "n": 3},
            CLAIM_NRPS: {"context_memberships_url": "https://lms/nrps"},
        }
    )
    assert (claims.user_id, claims.email, claims.person_sourcedid) == ("u1", "wang@jti.edu", "1001")
    assert claims.custom == {"tingke_page": "pick", "n": "3"}
    assert claims.is_instructor and not claims.is_learner_only and not claims.is_platform_admin
    assert claims.course_keys == ["C1", "L"] and claims.nrps_url == "https://lms/nrps"


def test_odd_shapes_are_absent() -> None:
    claims = LaunchClaims.from_jwt(
        {
            "sub": 5,
            "name": ["x"],
            "email": {"a": 1},
            CLAIM_ROLES: "Instructor",
            CLAIM_LIS: "1001",
            CLAIM_CONTEXT: ["c"],
            CLAIM_CUSTOM: "role=quality_center",
            CLAIM_NRPS: None,
        }
    )
    assert claims.user_id == "5" and claims.name == "" and claims.email == ""
    assert claims.roles == [] and claims.person_sourcedid == "" and claims.context_id == ""
    assert claims.custom == {} and claims.nrps_url == ""


def test_roles() -> None:
    assert LaunchClaims.from_jwt({CLAIM_ROLES: [ROLE_LEARNER]}).is_learner_only
    admin = LaunchClaims.from_jwt({CLAIM_ROLES: [ROLE_SYS_ADMIN]})
    assert admin.is_platform_admin and not admin.is_learner_only
    assert LaunchClaims.from_dict(admin.to_dict()) == admin


def test_deep_linking_data_is_kept_as_sent() -> None:
    """Deep Linking 2.0: ``data`` is opaque and must come back unchanged, whatever its JSON type."""
    for data in ("opaque-1", {"course": 7, "slot": ["a"]}, 0, ""):
        claims = LaunchClaims.from_jwt(
            {CLAIM_DL_SETTINGS: {"deep_link_return_url": "https://lms/dl", "data": data}}
        )
        assert claims.deep_link_data == data
        assert LaunchClaims.from_dict(claims.to_dict()).deep_link_data == data
    assert LaunchClaims.from_jwt({CLAIM_DL_SETTINGS: {}}).deep_link_data is None
