"""The quality center's archive page: close, reopen (with a reason), archived versions to download."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from lti_tool.actor import Actor
from lti_tool.archive.services import ArchiveService
from lti_tool.errors import ValidationFailed
from lti_tool.i18n import N_
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.reports.services import ReportRunService
from lti_tool.web import current_actor, db, redis_connection, requires_persona

bp = Blueprint("archive", __name__, url_prefix="/archive")

register_nav("quality_center", 90, "archive.index", N_("Archive"), active_prefix="archive.")
register_nav("organization", 30, "archive.index", N_("Archive"), active_prefix="archive.")


@bp.route("/")
@requires_persona("quality_center", "organization")
def index():
    actor = current_actor()
    service = ArchiveService(db(), actor.institution_id)
    semesters = service.semesters()
    return render_template(
        "archive/index.html",
        semesters=semesters,
        versions={s.id: service.versions(s.id) for s in semesters},
        events={s.id: service.events(s.id) for s in semesters},
    )


@bp.route("/<int:semester_id>/close")
@requires_persona("quality_center")
def confirm_close(semester_id: int):
    """What closing now means (early? drafts left?), and the deliberate confirmation."""
    actor = current_actor()
    preview = ArchiveService(db(), actor.institution_id).preview(semester_id)
    return render_template("archive/close.html", preview=preview, error=None)


@bp.route("/<int:semester_id>/close", methods=["POST"])
@requires_persona("quality_center")
def close(semester_id: int):
    actor = current_actor()
    service = ArchiveService(db(), actor.institution_id)
    try:
        runs = service.close(
            semester_id,
            actor.person_id,
            request.form.get("note", ""),
            confirm=request.form.get("confirm", ""),
        )
    except ValidationFailed as exc:  # the same page again, saying what the confirmation needs
        return render_template("archive/close.html", preview=service.preview(semester_id), error=exc), 422
    ReportRunService(db(), actor.institution_id).enqueue(runs, redis_connection())
    return redirect(url_for("archive.index"), code=303)


@bp.route("/<int:semester_id>/reopen", methods=["POST"])
@requires_persona("quality_center")
def reopen(semester_id: int):
    actor = current_actor()
    ArchiveService(db(), actor.institution_id).reopen(
        semester_id, actor.person_id, request.form.get("reason", "")
    )
    return redirect(url_for("archive.index"), code=303)


@register_panel("quality_center", 60)
def _panel(actor: Actor) -> Panel:
    return Panel(
        "archive/_panel.html", {"semesters": ArchiveService(db(), actor.institution_id).semesters()[:3]}
    )
