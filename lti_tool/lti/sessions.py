"""Launch sessions: where the session lives after a launch, and the credentials that name one.

A launch creates a ``LaunchSession`` row and ends the person's earlier sessions (a relaunch retires every
old cookie and token). The browser then names the row in one of two ways (docs/decisions.md L-4):

- **The session cookie** (``__Host-tingke-session``: ``Partitioned; Secure; SameSite=None; HttpOnly``).
  Browsers that block third-party cookies still keep a partitioned (CHIPS) one inside the LMS's iframe.
  Where it comes back, no link, form or fetch carries any session: a copied link authenticates nobody.
- **The link token** (``?s=``, ``X-Tingke-Session``), the fallback where the cookie does not come back.
  It lives ``link_token_seconds`` (15 minutes) and every page issues fresh ones (its links, forms and a
  response header the page script renews them from), so the token in a copied URL soon stops working.

Downloads never carry the link token: without the cookie their links carry a one-time ticket for that one
URL (``?t=``), consumed on use. The cookie and every token are signed with the app secret and name the
row, its institution and its person; all must match and the row must be neither expired nor ended.

Creating the session (every launch) and reading it back (every page) are single Core statements: the
ORM's unit of work would cost more than the rest of either.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from typing import Any, cast

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lti_tool.actor import Actor
from lti_tool.db import utcnow
from lti_tool.errors import Forbidden, NotAuthenticated
from lti_tool.lti.claims import LaunchClaims
from lti_tool.lti.models import DownloadTicket, LaunchSession, LoginState

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
    _SESSIONS.c.ended_at,
    _SESSIONS.c.token_epoch,
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
    session.execute(delete(DownloadTicket).where(DownloadTicket.expires_at < cutoff))
    return True


@lru_cache(maxsize=32)
def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


_LINK_SALT = "tingke-launch-session"
_COOKIE_SALT = "tingke-session-cookie"
_TICKET_SALT = "tingke-download-ticket"


@dataclass(frozen=True)
class Authenticated:
    """Who is acting, and by which credential: ``cookie`` (no session in any link), ``token`` (links carry
    a fresh link token) or ``ticket`` (a one-time download)."""

    actor: Actor
    via: str


class LaunchSessionService:
    COOKIE_NAME = "__Host-tingke-session"

    def __init__(
        self, session: Session, secret: str, lifetime_seconds: int, link_token_seconds: int = 900
    ) -> None:
        self.session = session
        self.lifetime = lifetime_seconds
        self.link_lifetime = min(link_token_seconds, lifetime_seconds)
        self._serializer = _serializer(secret, _LINK_SALT)
        self._cookies = _serializer(secret, _COOKIE_SALT)
        self._tickets = _serializer(secret, _TICKET_SALT)
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
        self._retire_tokens(self._same_person(institution_id, platform_id, claims.user_id, person_id))
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
        return sid, self._token(sid, institution_id, person_id, 0)

    @staticmethod
    def _same_person(
        institution_id: int, platform_id: int, lti_user_id: str, person_id: int | None
    ) -> ColumnElement[bool]:
        """The sessions of one person (or, unmatched, of one LMS account)."""
        same: ColumnElement[bool] = (_SESSIONS.c.platform_id == platform_id) & (
            _SESSIONS.c.lti_user_id == lti_user_id
        )
        if person_id is not None:
            same = or_(same, _SESSIONS.c.person_id == person_id)
        return (_SESSIONS.c.institution_id == institution_id) & same

    def _retire_tokens(self, which: ColumnElement[bool]) -> None:
        """Every link token these sessions issued stops working (a relaunch, a logout): a URL copied from
        an earlier page authenticates nobody. Their cookies are no tokens and go on (another device)."""
        self.session.execute(
            update(_SESSIONS)
            .where(which, _SESSIONS.c.ended_at.is_(None))
            .values(token_epoch=_SESSIONS.c.token_epoch + 1)
        )

    def end(self, session_id: str) -> None:
        """Logging out: the session's cookie and every token naming it stop working. (Link tokens of the
        person's other sessions stopped working at the launch of this one.)"""
        self.session.execute(update(_SESSIONS).where(_SESSIONS.c.id == session_id).values(ended_at=utcnow()))

    def token_for(self, row: LaunchSession | Actor) -> str:
        if isinstance(row, Actor):
            epoch = int(row.extra.get("token_epoch", 0))
            return self._token(row.session_id, row.institution_id, row.person_id, epoch)
        return self._token(row.id, row.institution_id, row.person_id, row.token_epoch or 0)

    def _token(self, session_id: str, institution_id: int, person_id: int | None, epoch: int) -> str:
        return self._serializer.dumps({"sid": session_id, "i": institution_id, "p": person_id, "e": epoch})

    def cookie_for(self, session_id: str, institution_id: int, person_id: int | None) -> str:
        """The session cookie's value (lives as long as the session; it never appears in a URL)."""
        return self._cookies.dumps({"sid": session_id, "i": institution_id, "p": person_id})

    def ticket_for(self, actor: Actor, scope: str) -> str:
        """A one-time download ticket for the URL ``scope`` describes (lives as long as a link token)."""
        return self._tickets.dumps(
            {
                "sid": actor.session_id,
                "i": actor.institution_id,
                "p": actor.person_id,
                "e": int(actor.extra.get("token_epoch", 0)),
                "u": sha256(scope.encode()).hexdigest()[:32],
                "j": secrets.token_urlsafe(18),
            }
        )

    def csrf_for(self, session_id: str) -> str:
        return hmac.new(self._csrf_key, session_id.encode(), sha256).hexdigest()[:32]

    def check_csrf(self, session_id: str, value: str | None) -> None:
        if not value or not hmac.compare_digest(self.csrf_for(session_id), value):
            raise Forbidden(
                "The form has expired or did not come from Tingke; reload the page and try again."
            )

    def authenticate(
        self, *, token: str | None, cookie: str | None, ticket: str | None = None, scope: str = ""
    ) -> Authenticated:
        """The acting session from what the request carried: a one-time download ticket (for ``scope``),
        a link token, or the session cookie. A token that no longer works (expired, ended) gives way to a
        working cookie; the cookie names the session only when no working token names another."""
        if ticket:
            return Authenticated(self._redeem_ticket(ticket, scope), "ticket")
        from_cookie: Actor | None = None
        if cookie:
            try:
                from_cookie = self._actor(self._cookies, cookie, self.lifetime, token=False)
            except NotAuthenticated:
                from_cookie = None
        if token:
            try:
                actor = self._actor(self._serializer, token, self.link_lifetime)
            except NotAuthenticated:
                if from_cookie is None:
                    raise
            else:
                same = from_cookie is not None and from_cookie.session_id == actor.session_id
                return Authenticated(actor, "cookie" if same else "token")
        if from_cookie is None:
            if cookie:
                raise NotAuthenticated("Your session has ended; please open Tingke from your LMS again.")
            raise NotAuthenticated("Please open Tingke from your LMS (the session is missing).")
        return Authenticated(from_cookie, "cookie")

    def actor_from_token(self, token: str | None) -> Actor:
        if not token:
            raise NotAuthenticated("Please open Tingke from your LMS (the session is missing).")
        return self._actor(self._serializer, token, self.link_lifetime)

    def _actor(
        self, serializer: URLSafeTimedSerializer, value: str, max_age: int, token: bool = True
    ) -> Actor:
        try:
            data = serializer.loads(value, max_age=max_age)
        except SignatureExpired as exc:
            raise NotAuthenticated(
                "Your session has expired; please open Tingke from your LMS again."
            ) from exc
        except BadSignature as exc:
            raise NotAuthenticated(
                "The session is not valid; please open Tingke from your LMS again."
            ) from exc
        return self._actor_of(data, token)

    def _actor_of(self, data: Any, token: bool = True) -> Actor:
        """The session the signed ``data`` names; a link token or ticket (``token``) must also be of the
        session's current token epoch."""
        sid = data.get("sid") if isinstance(data, dict) else None
        row = self.session.execute(_READ_SESSION, {"sid": sid}).first() if isinstance(sid, str) else None
        if (
            row is None
            or row.ended_at is not None
            or row.expires_at < utcnow()
            or row.institution_id != data.get("i")
            or row.person_id != data.get("p")
            or (token and data.get("e") != row.token_epoch)
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
            extra={"token_epoch": row.token_epoch},
        )

    def _redeem_ticket(self, ticket: str, scope: str) -> Actor:
        try:
            data = self._tickets.loads(ticket, max_age=self.link_lifetime)
        except BadSignature as exc:  # SignatureExpired included
            raise NotAuthenticated(
                "This download link has expired; go back, reload the page and download again."
            ) from exc
        if not isinstance(data, dict) or not hmac.compare_digest(
            str(data.get("u", "")), sha256(scope.encode()).hexdigest()[:32]
        ):
            raise NotAuthenticated("This download link is not valid; go back, reload the page and try again.")
        actor = self._actor_of(data)
        try:
            with self.session.begin_nested():
                self.session.execute(
                    insert(DownloadTicket),
                    {
                        "jti": str(data["j"])[:64],
                        "expires_at": utcnow() + dt.timedelta(seconds=self.link_lifetime + 60),
                    },
                )
        except IntegrityError as exc:
            raise NotAuthenticated(
                "This download link was already used; go back, reload the page and download again."
            ) from exc
        return actor

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
