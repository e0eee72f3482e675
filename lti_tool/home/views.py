"""Home pages per persona, persona switch and language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from lti_tool import clock
from lti_tool.home.services import HomeService
from lti_tool.i18n import N_
from lti_tool.nav import register_nav
from lti_tool.panels import panels_for
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from lti_tool.web import SUPPORTED_LOCALES, db, load_actor, session_service

bp = Blueprint("home", __name__)

for _persona in (
    "observer",
    "teacher",
    "handler",
    "quality_center",
    "organization",
    "school_office",
    "branch_secretary",
):
    register_nav(_persona, 0, "home.index", N_("Home"))


@bp.route("/home")
def index():
    actor = load_actor()
    if not actor.personas:
        if actor.person_id is None and actor.claims.is_learner_only:
            return render_template("home/learner.html")
        if actor.person_id is None:
            return render_template("home/unmatched.html", claims=actor.claims)
        return render_template("home/no_role.html")
    policy = PolicyStore(db(), actor.institution_id).current()
    service = HomeService(db(), actor.institution_id, policy)
    person = service.person(actor.person_id) if actor.person_id else None
    context: dict[str, Any] = {"person": person, "policy": policy, "panels": panels_for(actor)}
    if actor.persona == "observer" and person:
        context["positions"] = service.positions(
            person.id, clock.today(db().get(Institution, actor.institution_id))
        )
    if actor.persona in ("quality_center", "organization"):
        context["overview"] = service.overview()
    return render_template(f"home/{actor.persona}.html", **context)


@bp.route("/home/persona", methods=["POST"])
def switch_persona():
    actor = load_actor()
    session_service().switch_persona(actor, request.form.get("persona", ""))
    return redirect(url_for("home.index"), code=303)


@bp.route("/home/locale", methods=["POST"])
def switch_locale():
    actor = load_actor()
    locale = request.form.get("locale", "")
    if locale in SUPPORTED_LOCALES:
        session_service().set_locale(actor, locale)
    back = request.form.get("next")
    return redirect(back if back is not None and _is_local(back) else url_for("home.index"), code=303)


def _is_local(target: str | None) -> bool:
    return bool(target) and target.startswith("/") and not target.startswith("//")  # type: ignore[union-attr]
