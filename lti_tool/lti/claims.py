"""The launch's claims as one typed object, built once from a validated id_token.

Nothing here grants privilege from ``custom`` parameters: Moodle lets course teachers edit them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = LTI + "message_type"
CLAIM_VERSION = LTI + "version"
CLAIM_DEPLOYMENT = LTI + "deployment_id"
CLAIM_TARGET = LTI + "target_link_uri"
CLAIM_RESOURCE_LINK = LTI + "resource_link"
CLAIM_ROLES = LTI + "roles"
CLAIM_CONTEXT = LTI + "context"
CLAIM_LIS = LTI + "lis"
CLAIM_CUSTOM = LTI + "custom"
CLAIM_PRESENTATION = LTI + "launch_presentation"
CLAIM_PLATFORM = LTI + "tool_platform"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_SYS_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
ROLE_INST_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"


def _short(role: str) -> str:
    return role.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class LaunchClaims:
    """What Tingke uses of a launch. Stored on the ``LaunchSession`` as a dict."""

    message_type: str
    user_id: str
    roles: list[str]
    name: str = ""
    email: str = ""
    person_sourcedid: str = ""
    context_id: str = ""
    context_label: str = ""
    context_title: str = ""
    course_offering_sourcedid: str = ""
    resource_link_id: str = ""
    resource_link_title: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    locale: str = ""
    return_url: str = ""
    nrps_url: str = ""
    platform_name: str = ""
    deep_link_return_url: str = ""
    deep_link_data: str = ""

    @classmethod
    def from_jwt(cls, body: dict[str, Any]) -> LaunchClaims:
        ctx = body.get(CLAIM_CONTEXT) or {}
        lis = body.get(CLAIM_LIS) or {}
        link = body.get(CLAIM_RESOURCE_LINK) or {}
        pres = body.get(CLAIM_PRESENTATION) or {}
        nrps = body.get(CLAIM_NRPS) or {}
        dl = body.get(CLAIM_DL_SETTINGS) or {}
        custom = body.get(CLAIM_CUSTOM) or {}
        name = body.get("name") or " ".join(
            p for p in (body.get("family_name"), body.get("given_name")) if p
        )
        return cls(
            message_type=str(body.get(CLAIM_MESSAGE_TYPE, "")),
            user_id=str(body.get("sub", "")),
            roles=[str(r) for r in body.get(CLAIM_ROLES) or []],
            name=str(name or ""),
            email=str(body.get("email") or "").strip().lower(),
            person_sourcedid=str(lis.get("person_sourcedid") or "").strip(),
            context_id=str(ctx.get("id") or ""),
            context_label=str(ctx.get("label") or ""),
            context_title=str(ctx.get("title") or ""),
            course_offering_sourcedid=str(lis.get("course_offering_sourcedid") or "").strip(),
            resource_link_id=str(link.get("id") or ""),
            resource_link_title=str(link.get("title") or ""),
            custom={str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {},
            locale=str(pres.get("locale") or ""),
            return_url=str(pres.get("return_url") or ""),
            nrps_url=str(nrps.get("context_memberships_url") or ""),
            platform_name=str((body.get(CLAIM_PLATFORM) or {}).get("name") or ""),
            deep_link_return_url=str(dl.get("deep_link_return_url") or ""),
            deep_link_data=str(dl.get("data") or ""),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaunchClaims:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def short_roles(self) -> set[str]:
        return {_short(r) for r in self.roles}

    @property
    def is_learner_only(self) -> bool:
        staff = {"Instructor", "Administrator", "ContentDeveloper", "Mentor", "TeachingAssistant", "Staff",
                 "Faculty"}
        return not (self.short_roles & staff)

    @property
    def is_instructor(self) -> bool:
        return bool(self.short_roles & {"Instructor", "TeachingAssistant", "Faculty"})

    @property
    def is_platform_admin(self) -> bool:
        return ROLE_SYS_ADMIN in self.roles or ROLE_INST_ADMIN in self.roles

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == "LtiDeepLinkingRequest"

    @property
    def course_keys(self) -> list[str]:
        """Candidate timetable course codes for the launching LMS course, best first (issue 3 §3)."""
        return [k for k in (self.course_offering_sourcedid, self.context_label) if k]
