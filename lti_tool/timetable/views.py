"""Timetable pages: the session picker (observers, O-10/O-11) and the quality center's semesters,
period table, timetable import and LMS-course mapping.

Pages carry the session token in every link (``url_for`` adds it) and GET forms carry it as a hidden
field, because a browser drops an action URL's query string when it submits a GET form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from lti_tool.actor import Actor
from lti_tool.directory.personas import active_positions
from lti_tool.directory.services import parse_date
from lti_tool.errors import BadRequest, TingkeError
from lti_tool.i18n import N_
from lti_tool.import_runs.views import follow, receive
from lti_tool.inputs import id_field, row_id
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.importer import PREVIEW_LINES, TimetableImportPreviews, TimetableImportResult
from lti_tool.timetable.mapping import CourseMappingService
from lti_tool.timetable.periods import PeriodService
from lti_tool.timetable.search import SessionFilters, SessionSearchService, local_now
from lti_tool.timetable.semesters import SemesterService
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("timetable", __name__, url_prefix="/timetable")

register_nav("observer", 10, "timetable.pick", N_("Pick a class"))
register_nav(
    "quality_center", 60, "timetable.semesters", N_("Timetable and imports"), active_prefix="timetable."
)


PER_PAGE = 25
START_ENDPOINT = "observations.start"


def _start_url() -> str:
    """The observation engineer's start endpoint, when it exists (the picker renders either way)."""
    return url_for(START_ENDPOINT)


def _search_service(actor: Actor) -> SessionSearchService:
    return SessionSearchService(db(), actor.institution_id, PolicyStore(db(), actor.institution_id).current())


# -- the picker ----------------------------------------------------------------------------------------
def _date_arg(args: MultiDict[str, str], name: str, default: dt.date | None) -> dt.date | None:
    if name not in args:
        return default
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError:
        raise BadRequest("“%(value)s” is not a date (YYYY-MM-DD).", value=text[:40]) from None


@bp.route("/pick")
@requires_persona("observer", "quality_center")
def pick():
    """Pick a class session to observe (O-11): the launching course's sessions, or a search."""
    actor = current_actor()
    service = _search_service(actor)
    now = local_now(db(), actor.institution_id)
    today = now.date()
    args = request.args
    want_all = args.get("scope") == "all"
    scope = (
        service.scope(
            platform_id=actor.platform_id,
            context_id=actor.claims.context_id,
            course_keys=actor.claims.course_keys,
            # An LMS course that is no timetable course (the leaders' own course) opens on every class now and
            # next, never on its members' classes: they are the leaders themselves (issue 11 §8).
            course_teacher_ids=None,
            viewer_id=actor.person_id,
        )
        if not want_all
        else None
    )
    scoped = scope is not None and scope.kind != "all"
    default_to = None if scoped else today + dt.timedelta(days=6)
    filters = SessionFilters(
        date_from=_date_arg(args, "from", today),
        date_to=_date_arg(args, "to", default_to),
        unit_id=id_field(args, "unit"),
        teacher=args.get("teacher", "")[:100],
        course=args.get("course", "")[:100],
        class_name=args.get("class", "")[:100],
        ideological_only=args.get("ideological") == "1",
        course_codes=scope.course_codes if scope else (),
        teacher_ids=scope.teacher_ids if scope else (),
    )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise BadRequest("The end date is before the start date.")
    page = service.search(filters, page=args.get("page", 1, type=int), per_page=PER_PAGE)
    upcoming = []
    if page.page == 1:
        upcoming = service.now_and_next(
            now, 5, SessionFilters(course_codes=filters.course_codes, teacher_ids=filters.teacher_ids)
        )
    positions = active_positions(db(), actor.person_id, today) if actor.person_id is not None else set()
    service.decorate(page.items + upcoming, actor.person_id, positions, today)
    # empty values stay: an emptied date field means "no bound", unlike an absent one (the default)
    query: dict[str, Any] = {k: v for k, v in args.items() if k not in ("page", "s")}
    return render_template(
        "timetable/pick.html",
        page=page,
        upcoming=upcoming,
        filters=filters,
        scope=scope,
        want_all=want_all,
        units=service.units(),
        now=now,
        query=query,
        start_url=_start_url(),
        positions=positions,
        policy=service.policy,
    )


@register_panel("observer", 20)
def _observer_panel(actor: Actor) -> Panel | None:
    """Home: the next classes one could walk into now, with a link to the picker."""
    service = _search_service(actor)
    now = local_now(db(), actor.institution_id)
    upcoming = service.now_and_next(now, 5)
    positions = active_positions(db(), actor.person_id, now.date()) if actor.person_id is not None else set()
    service.decorate(upcoming, actor.person_id, positions, now.date())
    return Panel("timetable/_panel_now.html", {"upcoming": upcoming, "now": now, "start_url": _start_url()})


@register_panel("quality_center", 40)
def _quality_center_panel(actor: Actor) -> Panel | None:
    semesters = SemesterService(db(), actor.institution_id)
    current = semesters.current_or_next(local_now(db(), actor.institution_id).date())
    periods = len(PeriodService(db(), actor.institution_id).all())
    return Panel(
        "timetable/_panel_qc.html",
        {"current": current, "counts": semesters.session_counts(), "periods": periods},
    )


# -- quality center: semesters, periods, import, mapping -------------------------------------------
QC = ("quality_center",)


@bp.route("/")
@requires_persona(*QC)
def index():
    return redirect(url_for("timetable.semesters"), code=303)


@bp.route("/semesters")
@requires_persona(*QC)
def semesters():
    actor = current_actor()
    service = SemesterService(db(), actor.institution_id)
    return render_template(
        "timetable/semesters.html",
        semesters=service.all(),
        counts=service.session_counts(),
        added=request.args.get("added", ""),
    )


@bp.route("/semesters", methods=["POST"])
@requires_persona(*QC)
def add_semester():
    actor = current_actor()
    form = request.form
    semester = SemesterService(db(), actor.institution_id).add(
        form.get("code", ""), form.get("start", ""), form.get("weeks", ""), [form.get("holidays", "")]
    )
    return redirect(url_for("timetable.semesters", added=semester.code), code=303)


@bp.route("/periods")
@requires_persona(*QC)
def periods():
    actor = current_actor()
    return render_template(
        "timetable/periods.html", periods=PeriodService(db(), actor.institution_id).all(), result=None
    )


@bp.route("/periods", methods=["POST"])
@requires_persona(*QC)
def import_periods():
    actor = current_actor()
    received = receive("periods")
    if received.run is not None:  # a large file: a worker job imports it, its page follows it
        return follow(received.run)
    service = PeriodService(db(), actor.institution_id)
    result = service.import_periods(received.data, request.files["file"].filename or "")
    return render_template("timetable/periods.html", periods=service.all(), result=result)


@bp.route("/import")
@requires_persona(*QC)
def import_page():
    actor = current_actor()
    return _import_page(actor)


@bp.route("/import", methods=["POST"])
@requires_persona(*QC)
def import_timetable():
    """Upload → the preview of what would change (nothing stored yet) with a confirmation form."""
    actor = current_actor()
    replace = request.form.get("mode") == "replace"
    try:
        received = receive("timetable", options={"replace": replace})
        if received.run is not None:  # a large file: a worker job previews it, its page follows it
            return follow(received.run)
        pending, result = TimetableImportPreviews(db(), actor.institution_id).create(
            received.data, request.files["file"].filename or "", replace, actor.person_id
        )
    except TingkeError as exc:  # back on the form, the file's problems listed by row and column
        return _import_page(actor, error=exc, replace=replace), exc.status
    return render_template(
        "timetable/import_preview.html",
        pending=pending,
        filename=pending.filename,
        confirm_url=url_for("timetable.confirm_import"),
        result=result,
        limit=PREVIEW_LINES,
    )


@bp.route("/import/confirm", methods=["POST"])
@requires_persona(*QC)
def confirm_import():
    """Store exactly what the preview showed (refused if the timetable changed since)."""
    actor = current_actor()
    try:
        result = TimetableImportPreviews(db(), actor.institution_id).confirm(
            request.form.get("token", ""), replace_confirmed=request.form.get("confirm_replace") == "1"
        )
    except TingkeError as exc:
        return _import_page(actor, error=exc), exc.status
    return _import_page(actor, result=result)


def _import_page(
    actor: Actor,
    result: TimetableImportResult | None = None,
    error: TingkeError | None = None,
    replace: bool = False,
) -> str:
    semesters = SemesterService(db(), actor.institution_id)
    return render_template(
        "timetable/import.html",
        result=result,
        error=error,
        replace=replace,
        semesters=semesters.all(),
        counts=semesters.session_counts(),
        flagged=_search_service(actor).flagged(100),
        has_periods=bool(PeriodService(db(), actor.institution_id).all()),
    )


@bp.route("/mappings")
@requires_persona(*QC)
def mappings():
    actor = current_actor()
    service = CourseMappingService(db(), actor.institution_id)
    claims = actor.claims
    prefill = {
        "platform_id": request.args.get("platform_id", str(actor.platform_id)),
        "context_id": request.args.get("context_id", claims.context_id),
        "context_title": request.args.get("context_title", claims.context_title),
        "course_code": request.args.get("course_code", ""),
    }
    return render_template(
        "timetable/mappings.html",
        mappings=service.all(),
        platforms=service.platforms(),
        recent=service.recent_unmapped(),
        prefill=prefill,
        saved=request.args.get("saved", ""),
    )


@bp.route("/mappings", methods=["POST"])
@requires_persona(*QC)
def add_mapping():
    actor = current_actor()
    form = request.form
    platform_id = row_id(form.get("platform_id"))
    if platform_id is None:
        raise BadRequest("Choose the LMS platform.")
    mapping = CourseMappingService(db(), actor.institution_id).set(
        platform_id, form.get("context_id", ""), form.get("course_code", ""), form.get("context_title", "")
    )
    return redirect(url_for("timetable.mappings", saved=mapping.context_id), code=303)


@bp.route("/mappings/<int:mapping_id>/delete", methods=["POST"])
@requires_persona(*QC)
def remove_mapping(mapping_id: int):
    actor = current_actor()
    CourseMappingService(db(), actor.institution_id).remove(mapping_id)
    return redirect(url_for("timetable.mappings"), code=303)
