"""The launch's claims as one typed object, built once from a validated id_token.

Nothing here grants privilege from ``custom`` parameters: Moodle lets course teachers edit them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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


STAFF_ROLE_NAMES = frozenset(
    {"Instructor", "Administrator", "ContentDeveloper", "Mentor", "TeachingAssistant", "Staff", "Faculty"}
)
"""Short LTI role names of people who work at the college; anyone with none of them is a student."""


def _short(role: str) -> str:
    return role.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _obj(value: Any) -> dict[str, Any]:
    """A claim that must be a JSON object; anything else counts as absent (never a 500 on odd input)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A claim value as text; objects and lists (which a platform should never send here) become ''."""
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


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
    course_section_sourcedid: str = ""
    """Moodle sends the course's ID number here, never as ``course_offering_sourcedid``
    (docs: tests/fixtures/moodle-5.0/README.md)."""
    resource_link_id: str = ""
    resource_link_title: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    locale: str = ""
    return_url: str = ""
    nrps_url: str = ""
    platform_name: str = ""
    deep_link_return_url: str = ""
    deep_link_data: Any = None
    """``deep_linking_settings.data`` exactly as the platform sent it (None: not sent). Deep Linking 2.0
    calls it an opaque value the tool must return; lti1p3platform sends a JSON object, most LMSs a string."""

    @classmethod
    def from_jwt(cls, body: dict[str, Any]) -> LaunchClaims:
        ctx = _obj(body.get(CLAIM_CONTEXT))
        lis = _obj(body.get(CLAIM_LIS))
        link = _obj(body.get(CLAIM_RESOURCE_LINK))
        pres = _obj(body.get(CLAIM_PRESENTATION))
        nrps = _obj(body.get(CLAIM_NRPS))
        dl = _obj(body.get(CLAIM_DL_SETTINGS))
        custom = _obj(body.get(CLAIM_CUSTOM))
        roles = body.get(CLAIM_ROLES)
        name = _text(body.get("name")) or " ".join(
            p for p in (_text(body.get("family_name")), _text(body.get("given_name"))) if p
        )
        return cls(
            message_type=_text(body.get(CLAIM_MESSAGE_TYPE)),
            user_id=_text(body.get("sub")),
            roles=[r for r in roles if isinstance(r, str)] if isinstance(roles, list) else [],
            name=name,
            email=_text(body.get("email")).strip().lower(),
            person_sourcedid=_text(lis.get("person_sourcedid")).strip(),
            context_id=_text(ctx.get("id")),
            context_label=_text(ctx.get("label")),
            context_title=_text(ctx.get("title")),
            course_offering_sourcedid=_text(lis.get("course_offering_sourcedid")).strip(),
            course_section_sourcedid=_text(lis.get("course_section_sourcedid")).strip(),
            resource_link_id=_text(link.get("id")),
            resource_link_title=_text(link.get("title")),
            custom={str(k): _text(v) for k, v in custom.items()},
            locale=_text(pres.get("locale")),
            return_url=_text(pres.get("return_url")),
            nrps_url=_text(nrps.get("context_memberships_url")),
            platform_name=_text(_obj(body.get(CLAIM_PLATFORM)).get("name")),
            deep_link_return_url=_text(dl.get("deep_link_return_url")),
            deep_link_data=dl.get("data"),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaunchClaims:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its recursive deep copy is a measurable part of a launch. The values are
        # strings, a list of strings, a dict of strings and the deep-linking ``data`` (never modified), so
        # copying the two containers is enough.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["roles"] = list(self.roles)
        data["custom"] = dict(self.custom)
        return data

    @property
    def short_roles(self) -> set[str]:
        return {_short(r) for r in self.roles}

    @property
    def is_learner_only(self) -> bool:
        return not (self.short_roles & STAFF_ROLE_NAMES)

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
        """Candidate timetable course codes for the launching LMS course, best first (issue 3 §3): the
        course's ID number (``course_offering_sourcedid``, or ``course_section_sourcedid`` as Moodle sends
        it), then the context label (Moodle: the course's short name)."""
        keys = (self.course_offering_sourcedid, self.course_section_sourcedid, self.context_label)
        return list(dict.fromkeys(k for k in keys if k))


_FIELDS = tuple(f.name for f in fields(LaunchClaims))
