"""The person's calendar page (in the session) and the feed itself (outside it).

Calendar clients — Moodle's calendar subscriptions, a phone's subscribed calendars — fetch the feed with
no cookie and no link token: the secret in its address is the only credential (services.py). Its link is
therefore never built with ``url_for`` inside a page, which would add the page's link token to it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, url_for

from lti_tool.calendar_feed.services import (
    FEED_PREFIX,
    FEED_SUFFIX,
    CalendarAddressService,
    CalendarFeedService,
    find,
)
from lti_tool.errors import NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.nav import register_nav
from lti_tool.policy.store import PolicyStore
from lti_tool.web import current_actor, db, requires_persona, tingke

bp = Blueprint("calendar_feed", __name__)

PERSONAS = ("observer", "handler")
"""Leaders (reception weeks, planned observations, the summary, letters to them) and unit handlers
(letters and proposals their unit answers)."""

for _persona in PERSONAS:
    register_nav(_persona, 85, "calendar_feed.mine", N_("My calendar"))


def _addresses() -> CalendarAddressService:
    t = tingke()
    return CalendarAddressService(db(), current_actor().institution_id, t.secret, t.settings.base_url)


@bp.route("/my-calendar", methods=["GET"])
@requires_persona(*PERSONAS)
def mine():
    address = _addresses().address(current_actor().require_person())
    return render_template("calendar_feed/mine.html", address=address, reset=bool(request.args.get("reset")))


@bp.route("/my-calendar/reset", methods=["POST"])
@requires_persona(*PERSONAS)
def reset():
    if request.form.get("understood") != "yes":
        raise ValidationFailed("Tick the box to confirm that the old address should stop working.")
    _addresses().reset(current_actor().require_person())
    return redirect(url_for("calendar_feed.mine", reset=1), code=303)


@bp.route(f"{FEED_PREFIX}<token>{FEED_SUFFIX}", methods=["GET"])
def feed(token: str):
    """The ICS feed: no session; 404 for an address that names no feed (unknown, reset, malformed)."""
    session = db()
    row = find(session, token)
    if row is None:
        raise NotFound("No such calendar.")
    policy = PolicyStore(session, row.institution_id).current()
    host = urlsplit(tingke().settings.base_url).hostname or "tingke"
    service = CalendarFeedService(session, row, policy, host)
    built = service.build()
    service.note_fetch()
    response = Response(built.body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="tingke.ics"'
    # Clients poll; a shared cache must not keep one person's calendar, their own may for a while.
    response.headers["Cache-Control"] = "private, max-age=900"
    response.set_etag(built.etag)
    return response.make_conditional(request)
