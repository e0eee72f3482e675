"""What happens after a launch validated: who it is, which personas, and the session.

Also builds the Deep Linking 2.0 response: the teacher or admin picks which Tingke page the new Moodle
activity opens; the choice travels as a *custom parameter* of the resource link (never in the URL), and
it only chooses a page — no privilege ever comes from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.actor import Actor
from lti_tool.config import Settings
from lti_tool.directory.identity import IdentityService
from lti_tool.directory.personas import personas_from, quality_center_staffed
from lti_tool.errors import Forbidden
from lti_tool.i18n import N_
from lti_tool.lti.claims import LaunchClaims
from lti_tool.lti.models import LaunchSession, Platform
from lti_tool.lti.services import ValidatedLaunch
from lti_tool.lti.sessions import LaunchSessionService
from lti_tool.lti.tool_conf import DbToolConf
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution

# Pages a deep link may open; the key is stored as custom parameter ``tingke_page``.
DEEP_LINK_TARGETS = {
    "home": N_("Tingke home (each person lands on their own page)"),
    "pick": N_("Pick a class session to observe"),
    "dashboard": N_("Compliance dashboard"),
}

# Which personas a landing page is for. A custom parameter only *chooses* among the pages the person
# may see anyway (Moodle's course teachers can edit custom parameters); the page itself still checks.
LANDING_PERSONAS: dict[str, tuple[str, ...]] = {
    "pick": ("observer", "quality_center"),
    "dashboard": ("quality_center", "organization"),
}


@dataclass
class LaunchOutcome:
    token: str
    """A short-lived link token for the first page (docs/decisions.md L-4)."""
    deep_linking: bool
    landing: str = "home"
    """The page key the launch lands on (``home`` unless a deep link chose a page this person may see)."""
    cookie: str = ""
    """The session cookie's value (lti_tool/web.py sets it partitioned)."""


def _locale_from_claim(raw: str) -> str:
    raw = raw.lower().replace("-", "_")
    return "en" if raw.startswith("en") else "zh_CN"


class LaunchFlow:
    def __init__(self, session: Session, sessions: LaunchSessionService, settings: Settings) -> None:
        self.session = session
        self.sessions = sessions
        self.settings = settings

    def complete(
        self,
        validated: ValidatedLaunch,
        today: dt.date | None = None,
        available_pages: frozenset[str] | set[str] = frozenset(),
    ) -> LaunchOutcome:
        """Identity, personas and the session; ``available_pages`` are the landing pages that exist now."""
        platform = validated.platform
        claims = validated.claims
        if claims.is_deep_linking and not (claims.is_instructor or claims.is_platform_admin):
            raise Forbidden("Only teachers and administrators can add Tingke to a course.")
        claims.custom = {k: v for k, v in claims.custom.items() if k == "tingke_page"}
        who = IdentityService(self.session, platform.institution_id).resolve_for_launch(platform.id, claims)
        personas = [
            p.value
            for p in personas_from(
                self.session,
                who.person_id,
                PolicyStore(self.session, platform.institution_id).current,
                unit_function=who.unit_function,
                unit_kind=who.unit_kind,
                tenures=who.tenures,
                is_instructor=claims.is_instructor,
                is_platform_admin=claims.is_platform_admin,
                today=today or clock.today(self.session.get(Institution, platform.institution_id)),
                staffed=lambda: quality_center_staffed(self.session, platform.institution_id),
            )
        ]
        landing, persona = "home", None
        if not claims.is_deep_linking:
            landing, persona = self._landing(claims.custom.get("tingke_page", ""), personas, available_pages)
        deployment_id = validated.body.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id", "")
        sid, token = self.sessions.create(
            institution_id=platform.institution_id,
            platform_id=platform.id,
            person_id=who.person_id,
            platform_user_id=who.platform_user_id,
            claims=claims,
            personas=personas,
            locale=_locale_from_claim(claims.locale),
            persona=persona,
            extra_claims={"deployment_id": deployment_id},
        )
        return LaunchOutcome(
            token=token,
            deep_linking=claims.is_deep_linking,
            landing=landing,
            cookie=self.sessions.cookie_for(sid, platform.institution_id, who.person_id),
        )

    @staticmethod
    def _landing(
        page: str, personas: list[str], available: frozenset[str] | set[str]
    ) -> tuple[str, str | None]:
        """The page a resource link's ``tingke_page`` asks for, if it exists and the person may see it,
        and the persona the session starts in (None: the first of ``personas``).

        The session switches to the persona that page is for (someone who is quality center *and*
        observer lands on the pick page as observer).
        """
        allowed = LANDING_PERSONAS.get(page, ())
        held = [p for p in allowed if p in personas]  # in the page's preference order
        if page not in available or not held:
            return "home", None
        return page, held[0]

    def deep_link_targets(self) -> dict[str, str]:
        return DEEP_LINK_TARGETS

    def deep_link_response(self, actor: Actor, target: str, title: str) -> tuple[str, str]:
        claims: LaunchClaims = actor.claims
        if not claims.is_deep_linking or not claims.deep_link_return_url:
            raise Forbidden("This session did not come from a deep-linking request.")
        if target not in DEEP_LINK_TARGETS:
            target = "home"
        platform = self.session.get(Platform, actor.platform_id)
        assert platform is not None
        row = self.session.get(LaunchSession, actor.session_id)
        deployment_id = (row.claims if row else {}).get("deployment_id", "")
        registration = DbToolConf(self.session).registration_for(platform)
        settings = {
            "deep_link_return_url": claims.deep_link_return_url,
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe"],
        }
        if claims.deep_link_data is not None:  # returned as it came, whatever its JSON type
            settings["data"] = claims.deep_link_data
        resource = (
            DeepLinkResource()
            .set_url(f"{self.settings.base_url}/lti/launch")
            .set_title(title.strip()[:200] or "听课 Tingke")
            .set_custom_params({"tingke_page": target})
        )
        link = DeepLink(registration, deployment_id, settings)  # type: ignore[arg-type]
        return link.get_response_jwt([resource]), claims.deep_link_return_url
