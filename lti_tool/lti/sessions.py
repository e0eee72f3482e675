"""Launch sessions and the signed token that names one.

Inside an LMS iframe, a browser that blocks third-party cookies drops the tool's session cookie, so the
token travels in the page instead: every link and form action carries ``?s=<token>`` (added by a
``url_defaults`` hook), and fetch calls send it as ``X-Tingke-Session``. The token is signed with the
app secret, expires, and names the session row, its institution and its person; all three must match.
Pages set ``Referrer-Policy: no-referrer`` so the token does not leak to other sites.

Creating the session (every launch) and reading it back (every page) are single Core statements: the
ORM's unit of work would cost more than the rest of either.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
import time
from functools import lru_cache
from hashlib import sha256
from typing import Any, cast

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from lti_tool.actor import Actor
from lti_tool.db import utcnow
from lti_tool.errors import Forbidden, NotAuthenticated
from lti_tool.lti.claims import LaunchClaims
from lti_tool.lti.models import LaunchSession, LoginState

SWEEP_INTERVAL_SECONDS = 60.0
_sweep_lock = threading.Lock()
_next_sweep = [0.0]

_SESSIONS = cast(Table, LaunchSession.__table__)
_INSERT_SESSION = insert(_SESSIONS)
_READ_SESSION = select(
    _SESSIONS.c.id,
    _SESSIONS.c.institution_id,
    _SESSIONS.c.person_id,
    _SESSIONS.c.platform_id,
    _SESSIONS.c.persona,
    _SESSIONS.c.claims,
    _SESSIONS.c.locale,
    _SESSIONS.c.expires_at,
).where(_SESSIONS.c.id == bindparam("sid"))


def sweep_expired(session: Session, force: bool = False) -> bool:
    """Delete expired login states and launch sessions, at most once a ``SWEEP_INTERVAL_SECONDS`` per
    process (unless ``force``); returns whether it ran.

    Why not on every request: the two DELETEs cost as much as a quarter of a login, and on SQLite they
    are writes under the single write lock. Nothing depends on their timing: an expired state or session
    is refused by its ``expires_at`` whether or not its row is still there.
    """
    now = time.monotonic()
    with _sweep_lock:
        if not force and now < _next_sweep[0]:
            return False
        _next_sweep[0] = now + SWEEP_INTERVAL_SECONDS
    cutoff = utcnow()
    session.execute(delete(LoginState).where(LoginState.expires_at < cutoff))
    session.execute(delete(LaunchSession).where(LaunchSession.expires_at < cutoff))
    return True


@lru_cache(maxsize=8)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="tingke-launch-session")


class LaunchSessionService:
    def __init__(self, session: Session, secret: str, lifetime_seconds: int) -> None:
        self.session = session
        self.lifetime = lifetime_seconds
        self._serializer = _serializer(secret)
        self._csrf_key = sha256(("csrf:" + secret).encode()).digest()

    def create(
        self,
        *,
        institution_id: int,
        platform_id: int,
        person_id: int | None,
        platform_user_id: int | None,
        claims: LaunchClaims,
        personas: list[str],
        locale: str,
        persona: str | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """Store the session (one INSERT) and return its id and token. ``persona`` defaults to the first
        of ``personas``; ``extra_claims`` are stored with the claims (e.g. the deployment id)."""
        sid = secrets.token_urlsafe(24)
        now = utcnow()
        self.session.execute(
            _INSERT_SESSION,
            {
                "id": sid,
                "institution_id": institution_id,
                "platform_id": platform_id,
                "person_id": person_id,
                "platform_user_id": platform_user_id,
                "lti_user_id": claims.user_id,
                "roles": claims.roles,
                "claims": claims.to_dict() | {"personas": personas} | (extra_claims or {}),
                "persona": persona if persona is not None else (personas[0] if personas else ""),
                "locale": locale,
                "created_at": now,
                "expires_at": now + dt.timedelta(seconds=self.lifetime),
            },
        )
        return sid, self._token(sid, institution_id, person_id)

    def token_for(self, row: LaunchSession) -> str:
        return self._token(row.id, row.institution_id, row.person_id)

    def _token(self, session_id: str, institution_id: int, person_id: int | None) -> str:
        return self._serializer.dumps({"sid": session_id, "i": institution_id, "p": person_id})

    def csrf_for(self, session_id: str) -> str:
        return hmac.new(self._csrf_key, session_id.encode(), sha256).hexdigest()[:32]

    def check_csrf(self, session_id: str, value: str | None) -> None:
        if not value or not hmac.compare_digest(self.csrf_for(session_id), value):
            raise Forbidden(
                "The form has expired or did not come from Tingke; reload the page and try again."
            )

    def actor_from_token(self, token: str | None) -> Actor:
        if not token:
            raise NotAuthenticated("Please open Tingke from your LMS (the session is missing).")
        try:
            data = self._serializer.loads(token, max_age=self.lifetime)
        except SignatureExpired as exc:
            raise NotAuthenticated(
                "Your session has expired; please open Tingke from your LMS again."
            ) from exc
        except BadSignature as exc:
            raise NotAuthenticated(
                "The session is not valid; please open Tingke from your LMS again."
            ) from exc
        sid = data.get("sid") if isinstance(data, dict) else None
        row = self.session.execute(_READ_SESSION, {"sid": sid}).first() if isinstance(sid, str) else None
        if (
            row is None
            or row.expires_at < utcnow()
            or row.institution_id != data.get("i")
            or row.person_id != data.get("p")
        ):
            raise NotAuthenticated("Your session has ended; please open Tingke from your LMS again.")
        claims = LaunchClaims.from_dict(row.claims)
        return Actor(
            session_id=row.id,
            institution_id=row.institution_id,
            person_id=row.person_id,
            platform_id=row.platform_id,
            persona=row.persona,
            personas=list(row.claims.get("personas", [])),
            claims=claims,
            locale=row.locale,
        )

    def switch_persona(self, actor: Actor, persona: str) -> None:
        if persona not in actor.personas:
            raise Forbidden("You do not have that role.")
        row = self.session.get(LaunchSession, actor.session_id)
        assert row is not None
        row.persona = persona
        actor.persona = persona

    def set_locale(self, actor: Actor, locale: str) -> None:
        row = self.session.get(LaunchSession, actor.session_id)
        assert row is not None
        row.locale = locale
        actor.locale = locale
