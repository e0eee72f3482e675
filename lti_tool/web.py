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
from urllib.parse import urlencode

from flask import Flask, Request, Response, current_app, g, redirect, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import acting
from lti_tool.actor import Actor
from lti_tool.config import Settings
from lti_tool.errors import NotAuthenticated
from lti_tool.nav import is_current, nav_for

if TYPE_CHECKING:  # the lti domain builds these; app.py hands them in, so the shell imports no domain
    from lti_tool.lti.platform_keys import PlatformKeyCache
    from lti_tool.lti.sessions import LaunchSessionService

SESSION_PARAM = "s"
SESSION_HEADER = "X-Tingke-Session"
SESSION_COOKIE = "__Host-tingke-session"
"""The partitioned session cookie (``Partitioned; Secure; SameSite=None; HttpOnly; Path=/``), set by the
launch; where it comes back no link carries the session (lti/sessions.py, docs/decisions.md L-4)."""
TICKET_PARAM = "t"
SESSION_LTI_ENDPOINTS = {"lti.config", "lti.deep_link", "lti.logout", "lti.renew_session"}
"""The lti blueprint's pages that belong to a session; its others (login, launch, key set) never carry one."""
_DOWNLOAD = "tingke_download"
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


F = TypeVar("F", bound=Callable[..., Any])


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        actor = load_actor()
    return actor


def load_actor() -> Actor:
    """Authenticate the request from the session cookie, a link token or (downloads) a one-time ticket;
    POSTs must also carry the CSRF field.

    Where the cookie came back, pages carry no session at all; otherwise every page carries fresh link
    tokens (links, forms, and the ``X-Tingke-Session`` response header for fetch calls)."""
    token = (
        request.headers.get(SESSION_HEADER)
        or request.args.get(SESSION_PARAM)
        or request.form.get(SESSION_PARAM)
    )
    ticket = request.args.get(TICKET_PARAM) if is_download(request.endpoint) else None
    service = session_service()
    auth = service.authenticate(
        token=token,
        cookie=request.cookies.get(SESSION_COOKIE),
        ticket=ticket,
        scope=_download_scope(request.endpoint, {**(request.view_args or {}), **request.args.to_dict()}),
    )
    actor = auth.actor
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        service.check_csrf(
            actor.session_id, request.headers.get("X-CSRF-Token") or request.form.get(CSRF_FIELD)
        )
    g.actor = actor
    g.acting = acting.act_as(actor.describe())
    g.session_via = auth.via
    g.session_token = service.token_for(actor) if auth.via == "token" else ""
    g.csrf_token = service.csrf_for(actor.session_id)
    return actor


def set_session_cookie(response: BaseResponse, value: str) -> None:
    """The session cookie, partitioned (CHIPS): kept inside the LMS's iframe by browsers that block
    third-party cookies, and by no other site's page."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=tingke().settings.session_lifetime_seconds,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
        path="/",
    )


def clear_session_cookie(response: BaseResponse) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="None", partitioned=True
    )


def serves_download(view: F) -> F:
    """Marks a view as a download: its links never carry the session token; without the session cookie
    they carry a one-time ticket for that one URL (docs/decisions.md L-4)."""
    setattr(view, _DOWNLOAD, True)
    return view


def is_download(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, _DOWNLOAD, False))


def _download_scope(endpoint: str | None, values: dict[str, Any]) -> str:
    """What a download ticket is good for: the endpoint and its arguments, session and ticket excluded."""
    args = sorted(
        (k, str(v)) for k, v in values.items() if k not in (SESSION_PARAM, TICKET_PARAM) and v is not None
    )
    return f"{endpoint}:{args!r}"


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
    """Flask's cookie session, switched off: Tingke keeps no state in it (the session is a server-side row
    named by the partitioned cookie or a link token, above), and reading and signing an unused cookie
    costs every request."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None  # Flask then uses a NullSession, which refuses writes


def init_request_handling(app: Flask) -> None:
    app.session_interface = CookielessSessions()

    @app.before_request
    def _drop_token_from_address() -> BaseResponse | None:
        """The first page after a launch is addressed with a link token; when the session cookie came
        back with it, the page is served again at an address without the token, so none stays in the
        iframe's address or history where it could be copied (docs/decisions.md L-4). Only navigations
        have an address (fetch calls and other clients are answered as they asked)."""
        if (
            request.method != "GET"
            or request.headers.get("Sec-Fetch-Mode") != "navigate"
            or not request.args.get(SESSION_PARAM)
            or not request.cookies.get(SESSION_COOKIE)
            or is_download(request.endpoint)
            or (request.endpoint or "lti.").startswith("lti.")
        ):
            return None
        try:
            load_actor()
        except NotAuthenticated:
            return None  # the view answers as it would
        if g.get("session_via") != "cookie":
            return None
        args = request.args.copy()
        args.poplist(SESSION_PARAM)
        query = urlencode(list(args.items(multi=True)))
        return redirect(request.path + (f"?{query}" if query else ""), code=303)

    @app.url_defaults
    def _carry_session(endpoint: str, values: dict[str, Any]) -> None:
        """Links carry the session only where the cookie did not come back: a fresh link token, or for a
        download a one-time ticket for that URL."""
        token = g.get("session_token")
        if not token or endpoint == "static":
            return
        if endpoint.startswith("lti.") and endpoint not in SESSION_LTI_ENDPOINTS:
            return
        if is_download(endpoint):
            values.pop(SESSION_PARAM, None)
            if TICKET_PARAM not in values:
                values[TICKET_PARAM] = session_service().ticket_for(
                    g.actor, _download_scope(endpoint, values)
                )
            return
        values.setdefault(SESSION_PARAM, token)

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        return {
            "actor": g.get("actor"),
            "csrf_token": g.get("csrf_token", ""),
            "session_token": g.get("session_token", ""),
            "session_renew_seconds": max(tingke().settings.link_token_seconds // 3, 10),
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
            if g.get("session_token"):  # the page's fetch calls renew their link token from this
                response.headers[SESSION_HEADER] = g.session_token
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
