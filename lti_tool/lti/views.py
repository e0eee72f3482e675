"""LTI endpoints: OIDC login, launch, JWKS, the configuration page, dynamic registration, deep linking.

Thin views: parse the request, call ``LaunchService`` / ``RegistrationService``, render or redirect.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from lti_tool.errors import LaunchRefused, NotAuthenticated
from lti_tool.i18n import N_
from lti_tool.lti.keys import published_jwks
from lti_tool.lti.launch_flow import LaunchFlow
from lti_tool.lti.registration import RegistrationService
from lti_tool.lti.services import STATE_COOKIE_PREFIX, LaunchService, LaunchStateMissing
from lti_tool.nav import register_nav
from lti_tool.tenancy import Institution
from lti_tool.web import (
    SESSION_COOKIE,
    SESSION_HEADER,
    SESSION_PARAM,
    clear_session_cookie,
    current_actor,
    db,
    load_actor,
    session_service,
    set_session_cookie,
    tingke,
)

bp = Blueprint("lti", __name__)

register_nav("quality_center", 100, "lti.config", N_("LMS set-up"))


def _launch_service() -> LaunchService:
    t = tingke()
    return LaunchService(db(), t.settings, t.key_cache)


def _params() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    return {k: v for k, v in source.items() if isinstance(v, str)}


@bp.route("/lti/login", methods=["GET", "POST"])
def login():
    result = _launch_service().login(_params(), secure=True, browser_cookies=dict(request.cookies))
    response = redirect(result.redirect_url, code=302)
    for name in result.stale_cookies:  # abandoned logins: bounded per browser, the oldest replaced
        response.delete_cookie(
            name, path="/lti/", secure=True, httponly=True, samesite="None", partitioned=True
        )
    # Partitioned (CHIPS): kept by browsers that block third-party cookies, inside the LMS's iframe only.
    response.set_cookie(
        result.cookie_name,
        result.cookie_value,
        max_age=result.cookie_max_age,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
        path="/lti/",
    )
    return response


# Landing pages a resource link may ask for (custom parameter ``tingke_page``), by endpoint. Other
# domains' pages may not exist yet: a page whose endpoint is not registered lands on home.
LANDING_ENDPOINTS = {"pick": "timetable.pick", "dashboard": "compliance.dashboard"}


@bp.route("/lti/login/new-window")
def login_new_window():
    """Last resort when the browser keeps no cookie inside the LMS's iframe: the same login, top level."""
    params: dict[str, Any] = _launch_service().login_params_for_new_window(request.args.get("state", ""))
    return redirect(url_for("lti.login", **params), code=303)


@bp.route("/lti/launch", methods=["POST"])
def launch():
    try:
        validated = _launch_service().validate_launch(_params(), dict(request.cookies), secure=True)
    except LaunchStateMissing as exc:
        return render_template("lti/state_missing.html", message=exc.translated(), state=exc.retry_state), 400
    t = tingke()
    available = set(LANDING_ENDPOINTS)  # every landing page is a blueprint the app always registers
    outcome = LaunchFlow(db(), session_service(), t.settings).complete(validated, available_pages=available)
    if outcome.deep_linking:
        response = redirect(url_for("lti.deep_link", s=outcome.token), code=303)
        set_session_cookie(response, outcome.cookie)
        return response
    target = url_for("home.index", s=outcome.token)
    if outcome.landing in LANDING_ENDPOINTS:
        with suppress(BuildError):  # the page needs URL arguments a launch cannot supply
            target = url_for(LANDING_ENDPOINTS[outcome.landing], s=outcome.token)
    response = redirect(target, code=303)
    # Where the browser keeps this partitioned cookie, it is the session and no link carries one; the
    # token in this redirect is short-lived and the next page shows whether the cookie came back.
    set_session_cookie(response, outcome.cookie)
    # The state cookie has done its job (the state row is consumed): don't let them pile up.
    response.delete_cookie(
        STATE_COOKIE_PREFIX + request.form.get("state", ""),
        path="/lti/",
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )
    return response


@bp.route("/lti/logout", methods=["POST"])
def logout():
    """Ends the session: its cookie and every token naming it stop working, wherever they were copied."""
    actor = current_actor()
    session_service().end(actor.session_id)
    g.session_token = ""  # the page below belongs to no session
    g.actor = None
    response = make_response(render_template("lti/logged_out.html"))
    clear_session_cookie(response)
    return response


@bp.route("/lti/session")
def renew_session():
    """A fresh link token for a page that stays open (the page script asks; no cookie came back)."""
    current_actor()
    return jsonify(session=g.get("session_token", ""))


@bp.route("/.well-known/jwks.json")
def jwks():
    response = make_response(published_jwks(tingke().session_factory.kw["bind"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/")
def about():
    """What Tingke is, for whoever opens the bare address: people use it from their LMS."""
    settings = tingke().settings
    demo = "" if settings.is_production else settings.demo_lms_url
    return render_template("lti/about.html", demo_lms_url=demo)


@bp.route("/lti/config")
def config():
    """Every URL and value an LMS administrator pastes into Moodle.

    The manual values are public; the dynamic registration URL carries a key, so it is shown only to the
    institution's own quality center (opened from the LMS, with its session token).
    """
    registration = RegistrationService(db(), tingke().settings)
    institution = None
    token = request.args.get(SESSION_PARAM) or request.headers.get(SESSION_HEADER)
    if token or request.cookies.get(SESSION_COOKIE):
        try:
            actor = load_actor()
        except NotAuthenticated:
            if token:
                raise
        else:
            if actor.persona == "quality_center":
                institution = db().get(Institution, actor.institution_id)
    return render_template(
        "lti/config.html", base=tingke().settings.base_url, institution=institution, registration=registration
    )


@bp.route("/lti/register", methods=["GET"])
@bp.route("/lti/register/<institution_code>", methods=["GET"])
@bp.route("/lti/register/<institution_code>/<key>", methods=["GET"])
def register(institution_code: str | None = None, key: str | None = None):
    """LTI Dynamic Registration: Moodle opens this with openid_configuration and registration_token."""
    service = RegistrationService(db(), tingke().settings)
    openid_configuration = request.args.get("openid_configuration", "")
    # Moodle frames this page: let the LMS that opened it show our answer, refusals included (an error
    # page carries no data, so framing it is harmless).
    origin = urlsplit(openid_configuration)
    if origin.scheme in ("http", "https") and origin.netloc:
        g.frame_ancestors_extra = [f"{origin.scheme}://{origin.netloc}"]
    service.check_registration_key(institution_code, key)
    if not openid_configuration:
        raise LaunchRefused("This is the dynamic registration URL: paste it into Moodle's 'Tool URL' field.")
    result = service.register(
        institution_code, openid_configuration, request.args.get("registration_token"), key=key
    )
    # Moodle shows this page in an iframe: drop the cached frame-ancestors so that this very response
    # (its CSP is computed after the commit) already lets the newly registered LMS frame it.
    tingke().frame_origins = (0.0, [])
    return render_template("lti/registered.html", platform=result)


@bp.route("/lti/deep-link", methods=["GET", "POST"])
def deep_link():
    actor = load_actor()
    flow = LaunchFlow(db(), session_service(), tingke().settings)
    if request.method == "POST":
        jwt_text, return_url = flow.deep_link_response(
            actor, request.form.get("target", "home"), request.form.get("title", "")
        )
        return render_template("lti/deep_link_return.html", jwt=jwt_text, return_url=return_url)
    return render_template("lti/deep_link.html", targets=flow.deep_link_targets())
