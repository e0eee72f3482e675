"""The reminder banner on the observer's home page, and dismissing it."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from lti_tool.actor import Actor
from lti_tool.panels import Panel, register_panel
from lti_tool.reminders.services import ReminderService
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("reminders", __name__, url_prefix="/reminders")


@bp.route("/<int:reminder_id>/dismiss", methods=["POST"])
@requires_persona()
def dismiss(reminder_id: int):
    actor = current_actor()
    ReminderService(db(), actor.institution_id).dismiss(reminder_id, actor.require_person())
    return redirect(url_for("home.index"), code=303)


@register_panel("observer", 1)
def _banner(actor: Actor) -> Panel | None:
    if actor.person_id is None:
        return None
    reminders = ReminderService(db(), actor.institution_id).active_for(actor.person_id)
    return Panel("reminders/_banner.html", {"reminders": reminders}) if reminders else None
