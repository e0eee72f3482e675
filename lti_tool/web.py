"""Request plumbing shared by every blueprint: the DB session, the actor, CSRF, headers, locale.

One transaction per request: services flush, ``after_request`` commits when the response is a success
and rolls back otherwise (a refused launch or a failed import leaves nothing behind).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Request, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import acting
from lti_tool.actor import Actor
from lti_tool.config import Settings
from lti_tool.nav import is_current, nav_for

if TYPE_CHECKING:  # the lti domain builds these; app.py hands them in, so the shell imports no domain
    from lti_tool.lti.platform_keys import PlatformKeyCache
    from lti_tool.lti.sessions import LaunchSessionService

SESSION_PARAM = "s"
SESSION_HEADER = "X-Tingke-Session"
CSRF_FIELD = "csrf"
SUPPORTED_LOCALES = ("zh_CN", "en")


@dataclass
class Tingke:
    """What the app holds for its lifetime (``app.extensions["tingke"]``)."""

    settings: Settings
    session_factory: sessionmaker[Session]
    key_cache: PlatformKeyCache
    secret: str
    sessions: Callable[[Session], LaunchSessionService]
    """The launch-session service over a database session (lti/sessions.py): who is acting."""
    platform_origins: Callable[[Session], dict[int, str]]
    """Each registered platform's origin, which may frame Tingke (lti/registration.py)."""
    frame_origins: tuple[float, list[str]] = (0.0, [])
    platform_origin: dict[int, str] = field(default_factory=dict)
    """Each platform's origin (by id), refreshed with ``frame_origins``."""
    redis: Any = None


def redis_connection() -> Any:
    """The app's Redis connection (RQ queues), opened on first use. Short timeouts: a Redis that is down
    or unreachable costs a request seconds, then a 503 page (lti_tool/errors.py), never a hung worker."""
    t = tingke()
    if t.redis is None:
        from redis import Redis

        t.redis = Redis.from_url(t.settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    return t.redis


def tingke() -> Tingke:
    return current_app.extensions["tingke"]


def db() -> Session:
    """The request's database session, opened on first use."""
    if "db" not in g:
        g.db = tingke().session_factory()
    return g.db


def session_service() -> LaunchSessionService:
    return tingke().sessions(db())


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        actor = load_actor()
    return actor


def load_actor() -> Actor:
    """Authenticate the request from its session token; POSTs must also carry the CSRF field."""
    token = (
        request.headers.get(SESSION_HEADER)
        or request.args.get(SESSION_PARAM)
        or request.form.get(SESSION_PARAM)
    )
    service = session_service()
    actor = service.actor_from_token(token)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        service.check_csrf(
            actor.session_id, request.headers.get("X-CSRF-Token") or request.form.get(CSRF_FIELD)
        )
    g.actor = actor
    g.acting = acting.act_as(actor.describe())
    g.session_token = token
    g.csrf_token = service.csrf_for(actor.session_id)
    return actor


F = TypeVar("F", bound=Callable[..., Any])


def requires_persona(*personas: str) -> Callable[[F], F]:
    """View decorator: an authenticated actor whose current persona is one of ``personas``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if personas:
                actor.require_persona(*personas)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _platform_origins() -> list[str]:
    """Origins allowed to frame Tingke: every registered platform's (cached for a minute)."""
    t = tingke()
    fetched, origins = t.frame_origins
    if time.monotonic() - fetched > 60:
        with t.session_factory() as s:
            by_platform = t.platform_origins(s)
        origins = sorted(set(by_platform.values()))
        t.platform_origin = by_platform
        t.frame_origins = (time.monotonic(), origins)
    return origins


def _frame_ancestors(actor: Actor | None) -> tuple[str, ...]:
    """Who may frame this response: a session's page only its own platform (issue 13 §7); pages without a
    session (the launch, its refusals, the configuration page) every registered platform."""
    origins = _platform_origins()
    if actor is None:
        return tuple(origins)
    own = tingke().platform_origin.get(actor.platform_id)
    return (own,) if own else ()


@lru_cache(maxsize=64)
def _content_security_policy(origins: tuple[str, ...], extra: tuple[str, ...]) -> str:
    ancestors = " ".join(["'self'", *origins, *extra])
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"object-src 'none'; base-uri 'none'; frame-ancestors {ancestors}"
    )


class CookielessSessions(SecureCookieSessionInterface):
    """Flask's cookie session, switched off: Tingke keeps no state in it (the session is the signed token
    in the page, above), and reading and signing an unused cookie costs every request."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None  # Flask then uses a NullSession, which refuses writes


def init_request_handling(app: Flask) -> None:
    app.session_interface = CookielessSessions()

    @app.url_defaults
    def _carry_session(endpoint: str, values: dict[str, Any]) -> None:
        token = g.get("session_token")
        if token and endpoint != "static" and not endpoint.startswith("lti."):
            values.setdefault(SESSION_PARAM, token)

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        return {
            "actor": g.get("actor"),
            "csrf_token": g.get("csrf_token", ""),
            "session_token": g.get("session_token", ""),
            "CSRF_FIELD": CSRF_FIELD,
            "persona_label": persona_label,
            "run_status_label": run_status_label,
            "nav_entries": lambda: nav_for(g.get("actor")),
            "nav_current": is_current,
        }

    @app.after_request
    def _finish(response: Response) -> Response:
        session = g.pop("db", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        actor = g.get("actor")
        response.headers["Content-Security-Policy"] = _content_security_policy(
            _frame_ancestors(actor), tuple(g.get("frame_ancestors_extra", ()))
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if actor is not None:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.teardown_request
    def _teardown(exc: BaseException | None) -> None:
        token = g.pop("acting", None)
        if token is not None:
            acting.reset(token)
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()


PERSONA_LABELS = {
    "quality_center": lazy_gettext("Quality center"),
    "organization": lazy_gettext("Organization department"),
    "school_office": lazy_gettext("School office"),
    "observer": lazy_gettext("Observer"),
    "handler": lazy_gettext("Unit handler"),
    "branch_secretary": lazy_gettext("Party branch secretary"),
    "teacher": lazy_gettext("Teacher"),
}


RUN_STATUS_LABELS = {
    "pending": lazy_gettext("Waiting"),
    "running": lazy_gettext("Running"),
    "succeeded": lazy_gettext("Done"),
    "failed": lazy_gettext("Failed"),
}


def run_status_label(status: str) -> str:
    return str(RUN_STATUS_LABELS.get(status, status))


def persona_label(persona: str) -> str:
    return str(PERSONA_LABELS.get(persona, persona))


def select_locale() -> str:
    actor = g.get("actor")
    if actor is not None and actor.locale in SUPPORTED_LOCALES:
        return actor.locale
    lang = request.args.get("lang")
    if lang in SUPPORTED_LOCALES:
        return lang
    return request.accept_languages.best_match(SUPPORTED_LOCALES, default="zh_CN") or "zh_CN"
