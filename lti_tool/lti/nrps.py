"""Names and Role Provisioning Services 2.0: who teaches the course the actor launched from.

Why: an observer who launches Tingke from a course page wants to observe *that* course's teacher, but an
LMS course cannot always be mapped to a timetable course code (issue 3 §3). The launch's
``namesroleservice`` claim gives the course's membership URL; the members with the Instructor role,
matched to roster persons, are the candidates.

How, through pylti1p3 (``NamesRolesProvisioningService`` over a ``ServiceConnector``):

1. The registration comes from ``DbToolConf.registration_for(platform)``, so the client assertion is
   signed with the tool's newest key and carries its ``kid`` (the platform checks it against our JWKS).
2. The access token (OAuth2 client credentials) and the member list are cached in-process for a few
   minutes, per platform and course: a page that needs the teachers does not cost two LMS round trips
   every time.
3. Members become roster persons the way launches do (directory/identity.py): the LMS user already
   linked to a person, then ``lis_person_sourcedid`` = employee number, then a unique e-mail — always
   inside the actor's institution.

The LMS is not Tingke's to keep up: any failure (timeout, refused token, 4xx/5xx, malformed JSON)
returns no teachers and is logged, and the page that asked carries on without them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import requests
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.actor import Actor
from lti_tool.config import Settings
from lti_tool.directory.models import Person, PlatformUser
from lti_tool.lti.http import TimeoutSession
from lti_tool.lti.models import Platform
from lti_tool.lti.tool_conf import DbToolConf

log = logging.getLogger(__name__)

SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERS_TTL_SECONDS = 300.0
TOKEN_TTL_SECONDS = 300.0
"""Shorter than any platform's token lifetime (Moodle: 3600 s), so a cached token is never stale."""
TEACHER_ROLES = {"Instructor"}
INACTIVE_STATUSES = {"Inactive", "Deleted"}


class _TtlCache:
    """A small thread-safe in-process cache; each gunicorn worker keeps its own (that is fine here)."""

    def __init__(self) -> None:
        self._data: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._data.pop(key, None)
                return None
            return hit[1]

    def set(self, key: tuple, value: Any, ttl: float) -> None:
        with self._lock:
            if len(self._data) > 5000:  # never grows without bound: drop the expired, then everything
                now = time.monotonic()
                self._data = {k: v for k, v in self._data.items() if v[0] >= now}
                if len(self._data) > 5000:
                    self._data.clear()
            self._data[key] = (time.monotonic() + ttl, value)

    def pop(self, key: tuple) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_tokens = _TtlCache()
_members = _TtlCache()


class _CachedTokenConnector(ServiceConnector):
    """pylti1p3's connector, with its access token shared by every request of this process."""

    def __init__(self, registration: Registration, http: requests.Session, platform_key: tuple) -> None:
        super().__init__(registration, requests_session=http)
        self._platform_key = platform_key
        self.used_cached_token = False

    def _token_key(self, scopes: Iterable[str]) -> tuple:
        return (*self._platform_key, tuple(sorted(scopes)))

    def get_access_token(self, scopes: Any) -> str:
        key = self._token_key(scopes)
        token = _tokens.get(key)
        if token is not None:
            self.used_cached_token = True
            return str(token)
        token = super().get_access_token(scopes)
        _tokens.set(key, token, TOKEN_TTL_SECONDS)
        return str(token)

    def forget_tokens(self) -> None:
        """The platform refused a cached token (revoked, or it restarted): fetch a new one next time."""
        _tokens.pop(self._token_key([SCOPE_NRPS]))
        self._access_tokens.clear()
        self.used_cached_token = False


class CourseMembersService:
    """The members of the actor's launching course, and which roster persons teach it."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    @staticmethod
    def clear_cache() -> None:
        """Forget cached tokens and member lists (tests; or after a platform's registration changed)."""
        _tokens.clear()
        _members.clear()

    def course_teacher_ids(self, actor: Actor) -> list[int]:
        """Ids of the roster persons who are Instructors of the course the actor launched from.

        Empty when the launch offered no membership service, or the LMS could not be asked.
        """
        members = self.members(actor)
        teachers = [m for m in members if _is_active_teacher(m)]
        return self._match_persons(actor, teachers)

    def members(self, actor: Actor) -> list[dict[str, Any]]:
        url = actor.claims.nrps_url
        if not url:
            return []
        platform = self.session.get(Platform, actor.platform_id)
        if platform is None or platform.institution_id != actor.institution_id:
            return []
        platform_key = (platform.id, platform.issuer, platform.client_id)
        cache_key = (*platform_key, actor.claims.context_id, url)
        cached = _members.get(cache_key)
        if cached is not None:
            return list(cached)
        try:
            members = self._fetch(platform, platform_key, url)
        except (LtiException, requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "NRPS: could not read the members of %s from %s: %s",
                actor.claims.context_id,
                platform.issuer,
                exc,
            )
            return []
        _members.set(cache_key, members, MEMBERS_TTL_SECONDS)
        return list(members)

    def _fetch(self, platform: Platform, platform_key: tuple, url: str) -> list[dict[str, Any]]:
        registration = DbToolConf(self.session).registration_for(platform)
        connector = _CachedTokenConnector(
            registration, TimeoutSession(self.settings.http_timeout_seconds), platform_key
        )
        service = NamesRolesProvisioningService(connector, {"context_memberships_url": url})
        try:
            raw = service.get_members()
        except LtiServiceException as exc:
            if exc.response.status_code != 401 or not connector.used_cached_token:
                raise
            connector.forget_tokens()  # a cached token the platform no longer accepts: ask once more
            raw = service.get_members()
        if not isinstance(raw, list):
            raise ValueError("the membership container has no member list")
        return [dict(m) for m in raw if isinstance(m, dict)]

    def _match_persons(self, actor: Actor, members: list[dict[str, Any]]) -> list[int]:
        """Roster persons for these members, in the actor's institution only; order kept, no duplicates."""
        if not members:
            return []
        inst = actor.institution_id
        user_ids = {str(m.get("user_id") or "") for m in members} - {""}
        sourcedids = {str(m.get("lis_person_sourcedid") or "").strip() for m in members} - {""}
        emails = {str(m.get("email") or "").strip().lower() for m in members} - {""}
        linked = (
            dict(
                self.session.execute(
                    select(PlatformUser.lti_user_id, PlatformUser.person_id).where(
                        PlatformUser.institution_id == inst,
                        PlatformUser.platform_id == actor.platform_id,
                        PlatformUser.lti_user_id.in_(user_ids),
                        PlatformUser.person_id.is_not(None),
                    )
                ).all()
            )
            if user_ids
            else {}
        )
        by_number = (
            dict(
                self.session.execute(
                    select(Person.employee_no, Person.id).where(
                        Person.institution_id == inst, Person.employee_no.in_(sourcedids)
                    )
                ).all()
            )
            if sourcedids
            else {}
        )
        by_email: dict[str, list[int]] = {}
        if emails:
            rows = self.session.execute(
                select(func.lower(Person.email), Person.id).where(
                    Person.institution_id == inst, func.lower(Person.email).in_(emails)
                )
            ).all()
            for email, person_id in rows:
                by_email.setdefault(email, []).append(person_id)
        found: list[int] = []
        for m in members:
            person_id = linked.get(str(m.get("user_id") or "")) or by_number.get(
                str(m.get("lis_person_sourcedid") or "").strip()
            )
            if person_id is None:
                candidates = by_email.get(str(m.get("email") or "").strip().lower(), [])
                person_id = candidates[0] if len(candidates) == 1 else None  # a shared e-mail names nobody
            if person_id is not None and person_id not in found:
                found.append(person_id)
        return found


def _is_active_teacher(member: dict[str, Any]) -> bool:
    if member.get("status") in INACTIVE_STATUSES:
        return False
    roles = member.get("roles")
    if not isinstance(roles, list):
        return False
    return any(isinstance(r, str) and r.rsplit("#", 1)[-1].rsplit("/", 1)[-1] in TEACHER_ROLES for r in roles)
