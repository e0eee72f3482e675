"""The Flask application factory.

``create_app`` wires settings, the database, Babel, the blueprints and the error pages. Each domain owns
a blueprint (``lti``, ``home``, ``directory``, ``timetable``, ``observations``, ``policy``, ``reports``);
views stay thin and call one service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, format_date, format_datetime, format_decimal
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool import STATIC_DIR, TEMPLATES_DIR, clock, tabular
from lti_tool.config import Settings
from lti_tool.db import make_engine, make_session_factory
from lti_tool.errors import register_error_handlers
from lti_tool.i18n import TRANSLATIONS_DIR, ensure_compiled
from lti_tool.inputs import RowIdConverter, refuse_nul_characters
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.registration import platform_origins
from lti_tool.lti.secret import resolve_secret
from lti_tool.lti.sessions import LaunchSessionService
from lti_tool.notifications import outbox
from lti_tool.ops.observability import init_observability
from lti_tool.ops.probes import Probes
from lti_tool.problems import photos
from lti_tool.web import Tingke, init_request_handling, select_locale

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""The largest request body Tingke accepts (imports, policy files); nginx's client_max_body_size matches
(deploy/nginx/tingke.conf)."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    clock.set_default_zone(settings.timezone)
    tabular.configure(tabular.Limits.from_settings(settings))
    photos.configure(photos.PhotoLimits.from_settings(settings))
    app = Flask(
        "lti_tool",
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        instance_path=str(settings.instance_path),
    )
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    secret = resolve_secret(settings, session_factory)
    settings = replace(settings, secret_key=secret)  # services reading settings see the shared secret
    app.config.update(
        SECRET_KEY=secret,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
    )
    app.json = BoundedJSONProvider(app)
    app.json.sort_keys = False  # field errors keep the form's order
    app.url_map.converters["int"] = RowIdConverter  # before any rule is added
    ensure_compiled()
    Babel(app, locale_selector=select_locale)
    app.extensions["tingke"] = Tingke(
        settings=settings,
        session_factory=session_factory,
        key_cache=PlatformKeyCache(
            settings.jwks_cache_seconds,
            settings.jwks_refresh_min_interval_seconds,
            fetch_deadline=settings.jwks_fetch_deadline_seconds,
            failure_backoff=settings.jwks_failure_backoff_seconds,
        ),
        secret=secret,
        sessions=lambda session: LaunchSessionService(
            session, secret, settings.session_lifetime_seconds, settings.link_token_seconds
        ),
        platform_origins=platform_origins,
    )
    app.jinja_env.filters.update(
        date=lambda d, fmt="medium": format_date(d, fmt) if isinstance(d, dt.date) else "",
        datetime=lambda d, fmt="medium": format_datetime(d, fmt) if isinstance(d, dt.datetime) else "",
        number=lambda n: format_decimal(n) if n is not None else "",
    )
    _configure_outbox(settings)
    init_observability(app, settings)
    init_request_handling(app)
    app.before_request(refuse_nul_characters)
    register_error_handlers(app)
    _register_blueprints(app)
    if settings.proxy_hops > 0:
        # Trust exactly the configured number of proxies' X-Forwarded-For/-Proto/-Host/-Port (deploy/).
        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.wsgi_app = Probes(app.wsgi_app, settings, engine)  # type: ignore[method-assign]
    return app


def _configure_outbox(settings: Settings) -> None:
    """Notifications written in a request are queued on this Redis after the request's commit."""
    connection: list[Any] = []

    def factory() -> Any:
        if not connection:
            from redis import Redis

            connection.append(Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5))
        return connection[0]

    outbox.configure(factory)


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply for the parser (``[[[[…``) is malformed JSON
    like any other (``get_json`` answers 400) rather than a RecursionError escaping as a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _register_blueprints(app: Flask) -> None:
    """Every domain's pages (importing a views module also registers its panels and navigation)."""
    from lti_tool.archive import views as archive
    from lti_tool.calendar_feed import views as calendar_feed
    from lti_tool.compliance import views as compliance
    from lti_tool.contacts import summary_views as contact_summaries
    from lti_tool.contacts import views as contacts
    from lti_tool.directory import views as directory
    from lti_tool.home import views as home
    from lti_tool.import_runs import views as import_runs
    from lti_tool.lti import views as lti
    from lti_tool.notifications import views as notifications
    from lti_tool.observations import views as observations
    from lti_tool.outreach import views as outreach
    from lti_tool.patrols import views as patrols
    from lti_tool.policy import views as policy
    from lti_tool.problems import views as problems
    from lti_tool.reminders import views as reminders
    from lti_tool.reports import views as reports
    from lti_tool.timetable import views as timetable

    for module in (
        lti,
        home,
        directory,
        timetable,
        observations,
        policy,
        compliance,
        reports,
        patrols,
        problems,
        reminders,
        archive,
        contacts,
        contact_summaries,
        notifications,
        import_runs,
        outreach,
        calendar_feed,
    ):
        app.register_blueprint(module.bp)
