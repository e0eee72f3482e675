"""My notifications, my choices, and the institution's channels (quality center or school office)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from lti_tool.db import utcnow
from lti_tool.i18n import N_
from lti_tool.nav import register_nav
from lti_tool.notifications.events import label
from lti_tool.notifications.models import Channel
from lti_tool.notifications.services import NotificationService
from lti_tool.notifications.settings import (
    CHANNEL_FIELDS,
    FIELD_LABELS,
    SECRET_LABELS,
    ChannelSettingsService,
)
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

ALL_PERSONAS = (
    "observer",
    "teacher",
    "handler",
    "quality_center",
    "organization",
    "school_office",
    "branch_secretary",
)
SETTING_PERSONAS = ("quality_center", "school_office")

for _persona in ALL_PERSONAS:
    register_nav(_persona, 90, "notifications.mine", N_("Notifications"), active_prefix="notifications.mine")
for _persona in SETTING_PERSONAS:
    register_nav(_persona, 95, "notifications.channels", N_("Notification channels"))

CHANNEL_LABELS = {
    Channel.MOODLE: N_("Moodle notifications"),
    Channel.WECOM: N_("WeCom (企业微信)"),
    Channel.DINGTALK: N_("DingTalk (钉钉)"),
    Channel.EMAIL: N_("E-mail"),
}
STATUS_LABELS = {
    "pending": N_("waiting"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "undeliverable": N_("not deliverable"),
}


def _common() -> dict:
    return {
        "channel_label": lambda c: CHANNEL_LABELS.get(c, c),
        "status_label": lambda s: STATUS_LABELS.get(s, s),
        "event_label": lambda e: label(e, current_actor().locale or "zh_CN"),
        "field_label": lambda f: FIELD_LABELS.get(f, f),
        "secret_label": lambda c: SECRET_LABELS.get(c, c),
    }


@bp.route("/")
@requires_persona(*ALL_PERSONAS)
def mine():
    actor = current_actor()
    rows = NotificationService(db(), actor.institution_id).mine(actor.require_person())
    return render_template("notifications/mine.html", rows=rows, now=utcnow(), **_common())


@bp.route("/preferences", methods=["GET", "POST"])
@requires_persona(*ALL_PERSONAS)
def mine_preferences():
    actor = current_actor()
    person_id = actor.require_person()
    service = NotificationService(db(), actor.institution_id)
    events = service.my_events(person_id, actor.personas)
    if request.method == "POST":
        chosen = {tuple(v.split(":", 1)) for v in request.form.getlist("on") if ":" in v}
        shown = [s.channel for s in service.active_channels()]
        service.set_preferences(person_id, chosen, shown, events)  # type: ignore[arg-type]
        return redirect(url_for("notifications.mine_preferences", saved=1), code=303)
    saved = bool(request.args.get("saved"))
    return render_template(
        "notifications/preferences.html",
        rows=service.preferences(person_id, events),
        channels=[s.channel for s in service.active_channels()],
        saved=saved,
        **_common(),
    )


@bp.route("/channels", methods=["GET", "POST"])
@requires_persona(*SETTING_PERSONAS)
def channels():
    actor = current_actor()
    settings = ChannelSettingsService(db(), actor.institution_id)
    if request.method == "POST":
        channel = request.form.get("channel", "")
        settings.save(
            channel,
            enabled=request.form.get("enabled") == "1",
            options={k: request.form.get(k, "") for k in CHANNEL_FIELDS.get(channel, ())},
            secret=request.form.get("secret", ""),
        )
        return redirect(url_for("notifications.channels", saved=channel), code=303)
    saved = request.args.get("saved", "")
    return render_template(
        "notifications/channels.html",
        channels=settings.describe(),
        failures=NotificationService(db(), actor.institution_id).failures(),
        counts=NotificationService(db(), actor.institution_id).counts(),
        saved=saved,
        **_common(),
    )
