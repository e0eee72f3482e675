"""Observation pages: the record form with autosave, my records, group invitations, teacher feedback, and
the quality center's list, detail and exports.

Views parse, authorise (persona + person) and call one service method. The record form works without
JavaScript (a plain POST saves, "submit" shows what is missing next to each field); with JavaScript,
``static/observations.js`` autosaves through ``/autosave`` (JSON, session header + CSRF header, no
cookie) and submits through ``/submit``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from lti_tool import clock
from lti_tool.actor import Actor
from lti_tool.directory.services import DirectoryService
from lti_tool.draft_views import (
    incomplete_reply,
    json_body,
    local_hhmm,
    saved_reply,
    sent_draft_version,
    submit_reply,
    translated,
)
from lti_tool.drafts import RecordIncomplete
from lti_tool.errors import BadRequest
from lti_tool.i18n import N_
from lti_tool.inputs import id_field
from lti_tool.nav import register_nav
from lti_tool.observations.fields import FIXED, comment_field, rating_field
from lti_tool.observations.models import Observation, ObservationStatus
from lti_tool.observations.picker import decorate_sessions
from lti_tool.observations.services import (
    ObservationService,
    RecordFilter,
    session_label_parts,
)
from lti_tool.observations.transfer import ObservationTransfer
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.photos import uploads
from lti_tool.timetable.models import Semester
from lti_tool.timetable.search import register_session_decoration
from lti_tool.web import current_actor, db, requires_persona, serves_download

bp = Blueprint("observations", __name__, url_prefix="/observations")

register_nav("observer", 20, "observations.mine", N_("My records"), active_prefix="observations.")
register_nav(
    "teacher", 10, "observations.feedback_list", N_("Feedback on my classes"), active_prefix="observations."
)
register_nav("quality_center", 20, "observations.qc_list", N_("Records"), active_prefix="observations.")
# The picker (timetable/views.py) shows who is on each class and which of my duties it counts toward.
register_session_decoration(decorate_sessions)


OBSERVER, TEACHER, QC = "observer", "teacher", "quality_center"


def _service(actor: Actor) -> ObservationService:
    return ObservationService(db(), actor.institution_id, PolicyStore(db(), actor.institution_id).current())


def _observer() -> tuple[Actor, int, ObservationService]:
    actor = current_actor()
    actor.require_persona(OBSERVER)
    return actor, actor.require_person(), _service(actor)


def _form_fields(service: ObservationService) -> dict[str, Any]:
    """The record's fields out of a posted form (the last value wins: checkbox after its hidden "no")."""
    names = list(FIXED)
    for dim in service.policy.dimensions:
        names += [rating_field(dim.code), comment_field(dim.code)]
    return {n: request.form.getlist(n)[-1] for n in names if n in request.form}


def _form_values(service: ObservationService, obs: Observation) -> dict[str, str]:
    """The record's values as the form's inputs show them (local times, yes/no)."""
    out: dict[str, str] = {}
    for name, value in service.values(obs).items():
        if value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "yes" if value else "no"
        elif isinstance(value, dt.datetime):
            out[name] = value.astimezone(service.tz).strftime("%Y-%m-%dT%H:%M")
        elif isinstance(value, dt.time):
            out[name] = value.strftime("%H:%M")
        else:
            out[name] = str(value)
    return out


# -- the observer's record ---------------------------------------------------------------------------
@bp.route("/start", methods=["POST"])
@requires_persona(OBSERVER)
def start():
    actor, person_id, service = _observer()
    obs = service.start(person_id, request.form.get("session_id"))
    target = "observations.edit" if service.can_edit(obs, person_id) else "observations.view"
    return redirect(url_for(target, obs_id=obs.id), code=303)


@bp.route("/")
@requires_persona(OBSERVER)
def mine():
    actor, person_id, service = _observer()
    return render_template("observations/mine.html", records=service.my_records(person_id), service=service)


@bp.route("/<int:obs_id>/edit")
@requires_persona(OBSERVER)
def edit(obs_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    if not service.can_edit(obs, person_id):
        return redirect(url_for("observations.view", obs_id=obs.id), code=303)
    errors = translated(service.missing(obs)) if request.args.get("check") else {}
    return _render_form(service, obs, errors)


def _render_form(service: ObservationService, obs: Observation, errors: dict[str, str], status: int = 200):
    query = request.args.get("find", "").strip()
    directory = DirectoryService(db(), service.institution_id)
    found = directory.find_people(query, exclude=obs.author_id)
    units = directory.units()
    return render_template(
        "observations/edit.html",
        obs=obs,
        header=session_label_parts(obs.session),
        policy=service.policy,
        values=_form_values(service, obs),
        errors=errors,
        problems=service.problems(obs),
        units=list(units),
        found=found,
        find=query,
        deadline=service.correction_deadline(obs),
        class_over=service.class_ended(obs.session),
        class_end=service.class_end(obs.session),
        class_today=obs.session.date == service.now().astimezone(service.tz).date(),
        labels=service.labels(),
        saved=request.args.get("saved"),
        categories={
            c.code: c.display(current_actor().locale or "zh_CN") for c in service.policy.problem_categories
        },
    ), status


@bp.route("/<int:obs_id>/edit", methods=["POST"])
@requires_persona(OBSERVER)
def save(obs_id: int):
    """The form without JavaScript: save, and on "submit" either submit or show what is missing."""
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    service.require_author(obs, person_id)
    if service.is_locked(obs):  # an old tab after the semester was closed: the record page explains
        return redirect(url_for("observations.view", obs_id=obs.id), code=303)
    result = service.autosave(obs, person_id, _form_fields(service), request.form.get("draft_version"))
    if result.invalid:
        # The readable fields are stored (200 commits them); the unreadable ones are named by their input.
        return _render_form(service, obs, translated(result.invalid))
    if request.form.get("action") == "submit" and obs.status == ObservationStatus.DRAFT:
        if service.missing(obs):
            return redirect(url_for("observations.edit", obs_id=obs.id, check=1, _anchor="record"), code=303)
        service.submit(obs, person_id)
        return redirect(url_for("observations.view", obs_id=obs.id, done="submitted"), code=303)
    return redirect(url_for("observations.edit", obs_id=obs.id, saved=local_hhmm(service.tz)), code=303)


@bp.route("/<int:obs_id>/autosave", methods=["POST"])
@requires_persona(OBSERVER)
def autosave(obs_id: int):
    actor, person_id, service = _observer()
    body = json_body()
    obs = service.get_for_observer(person_id, obs_id)
    service.require_author(obs, person_id)
    if service.is_locked(obs):  # the semester was closed under an open tab: go to the page that explains
        return jsonify(
            error=gettext(
                "This record is locked: semester %(code)s has been archived.", code=service.semester(obs).code
            ),
            redirect=url_for("observations.view", obs_id=obs.id),
        ), 409
    try:
        result = service.autosave(obs, person_id, body.get("fields") or {}, body.get("draft_version"))
    except RecordIncomplete as exc:
        return incomplete_reply(exc)
    return saved_reply(obs, result, service.tz, arrived_late=obs.arrived_late)


@bp.route("/<int:obs_id>/submit", methods=["POST"])
@requires_persona(OBSERVER)
def submit(obs_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    return submit_reply(
        obs,
        lambda: service.submit(obs, person_id, sent_draft_version()),
        lambda errors: _render_form(service, obs, errors, 422),
        url_for("observations.view", obs_id=obs.id, done="submitted"),
    )


@bp.route("/<int:obs_id>/discard", methods=["POST"])
@requires_persona(OBSERVER)
def discard(obs_id: int):
    actor, person_id, service = _observer()
    service.discard(service.get_for_observer(person_id, obs_id), person_id)
    return redirect(url_for("observations.mine"), code=303)


@bp.route("/<int:obs_id>")
@requires_persona(OBSERVER)
def view(obs_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    return render_template(
        "observations/view.html",
        obs=obs,
        service=service,
        policy=service.policy,
        header=session_label_parts(obs.session),
        me=service.member(obs, person_id),
        person_id=person_id,
        can_edit=service.can_edit(obs, person_id),
        problems=service.problems(obs),
        deadline=service.correction_deadline(obs),
        locked=service.is_locked(obs),
        semester=service.semester(obs),
        done=request.args.get("done"),
        **_record_context(service, obs),
        **_audit_context(service, obs),
    )


def _record_context(service: ObservationService, obs: Observation) -> dict[str, Any]:
    values = service.values(obs)
    scale = {c.code: c for c in service.policy.scale}
    dims = {d.code: d for d in service.policy.dimensions}
    locale = current_actor().locale or "zh_CN"
    ratings = [
        (
            dims[r.dimension].display(locale) if r.dimension in dims else r.dimension,
            scale[r.rating].display(locale) if r.rating in scale else (r.rating or "—"),
            r.comment,
        )
        for r in sorted(obs.ratings, key=lambda r: r.position)
    ]
    categories = {c.code: c.display(locale) for c in service.policy.problem_categories}
    return {
        "values": values,
        "ratings": ratings,
        "categories": categories,
        "tz": service.tz,
        "labels": service.labels(),
    }


def _audit_context(service: ObservationService, obs: Observation) -> dict[str, Any]:
    audit = service.audit_trail(obs)
    return {"audit": audit, "names_by_id": service.names({a.person_id for a in audit})}


# -- group observation (O-12) ------------------------------------------------------------------------
@bp.route("/<int:obs_id>/members", methods=["POST"])
@requires_persona(OBSERVER)
def add_member(obs_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    service.add_member(obs, person_id, request.form.get("person"))
    return redirect(url_for("observations.edit", obs_id=obs.id, _anchor="group"), code=303)


@bp.route("/<int:obs_id>/members/<int:member_id>/remove", methods=["POST"])
@requires_persona(OBSERVER)
def remove_member(obs_id: int, member_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    service.remove_member(obs, person_id, member_id)
    return redirect(url_for("observations.edit", obs_id=obs.id, _anchor="group"), code=303)


@bp.route("/people")
@requires_persona(OBSERVER)
def people():
    """Roster search for the co-observer picker (JSON)."""
    actor, person_id, service = _observer()
    directory = DirectoryService(db(), service.institution_id)
    found = directory.find_people(request.args.get("q", ""), exclude=person_id)
    return jsonify(
        people=[
            {"id": p.id, "name": p.name, "employee_no": p.employee_no, "unit": p.unit.name if p.unit else ""}
            for p in found
        ]
    )


@bp.route("/<int:obs_id>/cosign", methods=["POST"])
@requires_persona(OBSERVER)
def cosign(obs_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    service.cosign(obs, person_id)
    return redirect(url_for("observations.view", obs_id=obs.id, done="cosigned"), code=303)


@bp.route("/<int:obs_id>/own", methods=["POST"])
@requires_persona(OBSERVER)
def write_own(obs_id: int):
    actor, person_id, service = _observer()
    own = service.write_own(service.get_for_observer(person_id, obs_id), person_id)
    return redirect(url_for("observations.edit", obs_id=own.id), code=303)


@bp.route("/<int:obs_id>/decline", methods=["POST"])
@requires_persona(OBSERVER)
def decline(obs_id: int):
    actor, person_id, service = _observer()
    service.decline(service.get_for_observer(person_id, obs_id), person_id)
    return redirect(url_for("observations.mine"), code=303)


# -- problems ----------------------------------------------------------------------------------------
@bp.route("/<int:obs_id>/problems", methods=["POST"])
@requires_persona(OBSERVER)
def add_problem(obs_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    service.raise_problem(
        obs,
        person_id,
        category=request.form.get("category", ""),
        unit_id=request.form.get("unit_id"),
        room=request.form.get("room", ""),
        description=request.form.get("description", ""),
        photos=uploads(request.files.getlist("photos")),
    )
    return redirect(url_for("observations.edit", obs_id=obs.id, _anchor="problems"), code=303)


@bp.route("/<int:obs_id>/problems/<int:problem_id>/withdraw", methods=["POST"])
@requires_persona(OBSERVER)
def withdraw_problem(obs_id: int, problem_id: int):
    actor, person_id, service = _observer()
    obs = service.get_for_observer(person_id, obs_id)
    service.withdraw_problem(obs, person_id, problem_id)
    return redirect(url_for("observations.edit", obs_id=obs.id, _anchor="problems"), code=303)


# -- teacher feedback (O-12) -------------------------------------------------------------------------
@bp.route("/feedback")
@requires_persona(TEACHER)
def feedback_list():
    actor = current_actor()
    service = _service(actor)
    return render_template(
        "observations/feedback_list.html",
        records=service.teacher_feedback(actor.require_person()),
        service=service,
    )


@bp.route("/feedback/<int:obs_id>")
@requires_persona(TEACHER)
def feedback(obs_id: int):
    actor = current_actor()
    service = _service(actor)
    obs = service.get_for_teacher(actor.require_person(), obs_id)
    return render_template(
        "observations/feedback.html",
        obs=obs,
        header=session_label_parts(obs.session),
        names=service.observer_names_for_teacher(obs),
        locked=service.is_locked(obs),
        done=request.args.get("done"),
        **_record_context(service, obs),
    )


@bp.route("/feedback/<int:obs_id>/ack", methods=["POST"])
@requires_persona(TEACHER)
def acknowledge(obs_id: int):
    actor = current_actor()
    service = _service(actor)
    person_id = actor.require_person()
    service.acknowledge(service.get_for_teacher(person_id, obs_id), person_id)
    return redirect(url_for("observations.feedback", obs_id=obs_id, done="ack"), code=303)


@bp.route("/feedback/<int:obs_id>/reply", methods=["POST"])
@requires_persona(TEACHER)
def reply(obs_id: int):
    actor = current_actor()
    service = _service(actor)
    person_id = actor.require_person()
    service.reply(service.get_for_teacher(person_id, obs_id), person_id, request.form.get("reply", ""))
    return redirect(url_for("observations.feedback", obs_id=obs_id, done="reply"), code=303)


# -- the quality center ------------------------------------------------------------------------------
def _filters() -> RecordFilter:
    def day(name: str) -> dt.date | None:
        value = request.args.get(name, "")
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise BadRequest("“%(value)s” is not a date (YYYY-MM-DD).", value=value[:40]) from None

    args = request.args
    return RecordFilter(
        semester_id=id_field(args, "semester"),
        unit_id=id_field(args, "unit"),
        observer=request.args.get("observer", ""),
        teacher=request.args.get("teacher", ""),
        course=request.args.get("course", ""),
        status=request.args.get("status", ""),
        date_from=day("from"),
        date_to=day("to"),
    )


FILTER_ARGS = ("semester", "unit", "observer", "teacher", "course", "status", "from", "to")


@bp.route("/all")
@requires_persona(QC)
def qc_list():
    actor = current_actor()
    service = _service(actor)
    result = service.search(_filters(), request.args.get("page", 1, type=int))
    args = {k: request.args.get(k, "") for k in FILTER_ARGS if request.args.get(k)}
    semesters = db().scalars(
        select(Semester)
        .where(Semester.institution_id == actor.institution_id)
        .order_by(Semester.week1_monday.desc())
    )
    units = DirectoryService(db(), actor.institution_id).units()
    return render_template(
        "observations/qc_list.html",
        page=result,
        args=args,
        semesters=list(semesters),
        units=list(units),
        service=service,
    )


@bp.route("/all/<int:obs_id>")
@requires_persona(QC)
def qc_view(obs_id: int):
    actor = current_actor()
    service = _service(actor)
    obs = service.get(obs_id)
    return render_template(
        "observations/qc_view.html",
        obs=obs,
        service=service,
        policy=service.policy,
        header=session_label_parts(obs.session),
        problems=service.problems(obs),
        locked=service.is_locked(obs),
        **_record_context(service, obs),
        **_audit_context(service, obs),
    )


@bp.route("/export.<fmt>")
@serves_download
@requires_persona(QC)
def export(fmt: str):
    actor = current_actor()
    policy = PolicyStore(db(), actor.institution_id).current()
    transfer = ObservationTransfer(db(), actor.institution_id, policy)
    stamp = clock.today(transfer.service.tz).strftime("%Y%m%d")  # the college's date in the file name
    chosen = _filters()
    if not chosen.status and request.args.get("drafts") != "1":
        chosen.status = ObservationStatus.SUBMITTED  # drafts only when asked for (issue 11 §5)
    if fmt == "csv":
        data, mime = transfer.export_csv(chosen), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        data, mime = (
            transfer.export_xlsx(chosen),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise BadRequest("Export as csv or xlsx.")
    return Response(
        data,
        mimetype=mime,
        headers={"Content-Disposition": f'attachment; filename="observations-{stamp}.{fmt}"'},
    )


# -- home panels ---------------------------------------------------------------------------------------
@register_panel(OBSERVER, 20)
def _observer_panel(actor: Actor) -> Panel | None:
    if actor.person_id is None:
        return None
    records = _service(actor).my_records(actor.person_id)
    return Panel("observations/_panel_observer.html", {"records": records})


@register_panel(TEACHER, 20)
def _teacher_panel(actor: Actor) -> Panel | None:
    if actor.person_id is None:
        return None
    return Panel(
        "observations/_panel_teacher.html",
        {"records": _service(actor).teacher_feedback(actor.person_id, limit=5)},
    )


@register_panel(QC, 30)
def _qc_panel(actor: Actor) -> Panel | None:
    service = _service(actor)
    return Panel(
        "observations/_panel_qc.html",
        {
            "submitted": service.count(ObservationStatus.SUBMITTED),
            "drafts": service.count(ObservationStatus.DRAFT),
        },
    )
