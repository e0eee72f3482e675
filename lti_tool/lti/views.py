"""LTI endpoints: OIDC login, launch, JWKS, the configuration page, dynamic registration, deep linking.

Thin views: parse the request, call ``LaunchService`` / ``RegistrationService``, render or redirect.
"""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from lti_tool.directory.models import Institution
from lti_tool.errors import LaunchRefused
from lti_tool.lti.keys import KeyService
from lti_tool.lti.launch_flow import LaunchFlow
from lti_tool.lti.registration import RegistrationService
from lti_tool.lti.services import LaunchService
from lti_tool.web import db, load_actor, session_service, tingke

bp = Blueprint("lti", __name__)


def _launch_service() -> LaunchService:
    t = tingke()
    return LaunchService(db(), t.settings, t.key_cache)


def _params() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    return {k: v for k, v in source.items() if isinstance(v, str)}


@bp.route("/lti/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    result = _launch_service().login(_params(), secure=True)
    response = redirect(result.redirect_url, code=302)
    # Partitioned (CHIPS): kept by browsers that block third-party cookies, inside the LMS's iframe only.
    response.set_cookie(result.cookie_name, result.cookie_value, max_age=result.cookie_max_age, secure=True,
                        httponly=True, samesite="None", partitioned=True, path="/lti/")
    return response


@bp.route("/lti/launch", methods=["POST"])
def launch():  # type: ignore[no-untyped-def]
    validated = _launch_service().validate_launch(_params(), dict(request.cookies), secure=True)
    t = tingke()
    outcome = LaunchFlow(db(), session_service(), t.settings).complete(validated)
    if outcome.deep_linking:
        return redirect(url_for("lti.deep_link", s=outcome.token), code=303)
    return redirect(url_for("home.index", s=outcome.token), code=303)


@bp.route("/.well-known/jwks.json")
def jwks():  # type: ignore[no-untyped-def]
    response = make_response(KeyService(db()).jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/lti/config")
def config():  # type: ignore[no-untyped-def]
    """Every URL and value an LMS administrator pastes into Moodle (manual or dynamic registration)."""
    institutions = db().query(Institution).order_by(Institution.code).all()
    base = tingke().settings.base_url
    return render_template("lti/config.html", base=base, institutions=institutions,
                           registration=RegistrationService(db(), tingke().settings))


@bp.route("/lti/register", methods=["GET"])
@bp.route("/lti/register/<institution_code>", methods=["GET"])
def register(institution_code: str | None = None):  # type: ignore[no-untyped-def]
    """LTI Dynamic Registration: Moodle opens this with openid_configuration and registration_token."""
    openid_configuration = request.args.get("openid_configuration", "")
    if not openid_configuration:
        raise LaunchRefused("This is the dynamic registration URL: paste it into Moodle's 'Tool URL' field.")
    result = RegistrationService(db(), tingke().settings).register(
        institution_code, openid_configuration, request.args.get("registration_token")
    )
    return render_template("lti/registered.html", platform=result)


@bp.route("/lti/deep-link", methods=["GET", "POST"])
def deep_link():  # type: ignore[no-untyped-def]
    actor = load_actor()
    flow = LaunchFlow(db(), session_service(), tingke().settings)
    if request.method == "POST":
        jwt_text, return_url = flow.deep_link_response(actor, request.form.get("target", "home"),
                                                       request.form.get("title", ""))
        return render_template("lti/deep_link_return.html", jwt=jwt_text, return_url=return_url)
    return render_template("lti/deep_link.html", targets=flow.deep_link_targets())
