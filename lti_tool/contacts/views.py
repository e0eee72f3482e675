"""Grassroots-contact pages: the leader's contact records (phone-first form with autosave), the unit side of
C-1c, the branch secretary's confirmations, and the school office's contact points, records and paper
confirmations.

Views parse, authorise (persona + person) and call one service method. The record form works without
JavaScript (a plain POST saves; "submit" shows what is missing next to each field); with JavaScript the
observation form's script (``static/observations.js``) autosaves through ``/autosave`` and submits through
``/submit`` with the same JSON contract, 409 on a stale tab included.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from lti_tool.academic_year import academic_year_bounds
from lti_tool.actor import Actor
from lti_tool.contacts.models import ContactPointKind, ContactRecord
from lti_tool.contacts.services import (
    FIELD_LABELS,
    REPORT_KINDS,
    BranchConfirmationService,
    ContactOfficeService,
    ContactPointService,
    ContactRecordService,
    UnitReportService,
    target_of,
)
from lti_tool.contacts.transfer import ContactTransfer, preview_points
from lti_tool.db import get_scoped
from lti_tool.directory.models import Person, StudentClass, Unit
from lti_tool.directory.services import DirectoryService
from lti_tool.draft_views import (
    json_body,
    local_hhmm,
    saved_reply,
    sent_draft_version,
    submit_reply,
    translated,
)
from lti_tool.errors import BadRequest, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.import_runs.views import follow, receive
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.schema import Policy
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.photos import uploads
from lti_tool.tabular import inspect_upload
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("contacts", __name__, url_prefix="/contacts")
bp.add_app_template_global(target_of, "target_of")  # the macros of the home panels need it too
register_nav("observer", 35, "contacts.mine", N_("Grassroots contact"), active_prefix="contacts.")
register_nav("school_office", 5, "contacts.office_points", N_("Contact points"))
register_nav("school_office", 6, "contacts.office_records", N_("Contact records"))
register_nav("school_office", 7, "contacts.office_branch", N_("Branch activities to confirm"))
register_nav("branch_secretary", 10, "contacts.branch", N_("Branch activities to confirm"))

LEADER, OFFICE, SECRETARY = "observer", "school_office", "branch_secretary"
"""A contact-point file uploaded on the page travels back with its preview: kept small."""

KIND_LABELS = {
    "visit": lazy_gettext("Research and guidance visit (调研指导)"),
    "work_report": lazy_gettext("Work report heard (听取汇报)"),
    "consultation": lazy_gettext("Opinion asked before a decision (征求意见)"),
    "branch_activity": lazy_gettext("Party branch activity (支部活动)"),
    "meeting": lazy_gettext("Meeting (民主生活会, 组织生活会 …)"),
    "lecture": lazy_gettext("Ideological-political or situation-and-policy lecture"),
    "symposium": lazy_gettext("Symposium with students and staff (座谈会)"),
    "talk": lazy_gettext("Heart-to-heart talk (谈心谈话)"),
    "friend": lazy_gettext("Contact with a friend (联系交友)"),
    "retiree_briefing": lazy_gettext("Briefing for retirees (离退休通报)"),
    "other": lazy_gettext("Other"),
}
TARGET_KIND_LABELS = {
    "college": lazy_gettext("Teaching college"),
    "teaching_office": lazy_gettext("Teaching office"),
    "lab": lazy_gettext("Laboratory"),
    "student_class": lazy_gettext("Student class"),
    "party_branch": lazy_gettext("Party branch"),
    "dormitory": lazy_gettext("Dormitory"),
    "club": lazy_gettext("Student club"),
    "friend": lazy_gettext("Friend (联系交友)"),
    "unit": lazy_gettext("Other unit"),
}


def _policy(actor: Actor) -> Policy:
    return PolicyStore(db(), actor.institution_id).current()


def _records(actor: Actor) -> ContactRecordService:
    return ContactRecordService(db(), actor.institution_id, _policy(actor))


def _leader() -> tuple[Actor, int, ContactRecordService]:
    actor = current_actor()
    actor.require_persona(LEADER)
    return actor, actor.require_person(), _records(actor)


def _me(actor: Actor) -> Person:
    person = get_scoped(db(), Person, actor.require_person(), actor.institution_id)
    if person is None:
        raise NotFound("No such person in the roster.")
    return person


def _labels() -> dict[str, Any]:
    return {
        "kinds": KIND_LABELS,
        "target_kinds": TARGET_KIND_LABELS,
        "field_labels": {k: gettext(v) for k, v in FIELD_LABELS.items()},
    }


@bp.app_context_processor
def _contact_labels() -> dict[str, Any]:
    """The labels for the contact-point preview on its import run's page (rendered by import_runs)."""
    return {"contact_labels": _labels}


def _target_choices(institution_id: int) -> dict[str, list[str]]:
    """Names the target field suggests, by kind (a datalist: the phone's keyboard filters it)."""
    out: dict[str, list[str]] = {k: [] for k in TARGET_KIND_LABELS}
    kind_of = {
        "college": "college",
        "marxism_school": "college",
        "teaching_office": "teaching_office",
        "lab": "lab",
        "party_branch": "party_branch",
    }
    for unit in db().scalars(select(Unit).where(Unit.institution_id == institution_id).order_by(Unit.code)):
        if unit.kind in kind_of:
            out[kind_of[unit.kind]].append(unit.name)
        out["unit"].append(unit.name)
    out["student_class"] = list(
        db().scalars(
            select(StudentClass.name)
            .where(StudentClass.institution_id == institution_id)
            .order_by(StudentClass.name)
        )
    )
    return out


# -- the leader's records ---------------------------------------------------------------------------
@bp.route("/")
@requires_persona(LEADER)
def mine():
    actor, person_id, service = _leader()
    drafts, submitted = service.my_records(person_id)
    points = service.points()
    year = points.current_year(service.today())
    me = _me(actor)
    return render_template(
        "contacts/mine.html",
        drafts=drafts,
        submitted=submitted,
        awaiting=service.awaiting_opinion(person_id),
        points=points.points(year, person_id),
        year=year,
        unit_side=bool(UnitReportService(db(), actor.institution_id, service.policy).leaders_for(me)),
        **_labels(),
    )


@bp.route("/new")
@requires_persona(LEADER)
def new():
    """A record started from a link (the duty page's next step): kind and target prefilled."""
    actor, person_id, service = _leader()
    points = service.points()
    year = points.current_year(service.today())
    prefill = {
        k: request.args.get(k, "")[:200] for k in ("kind", "target_kind", "target", "contact_point_id")
    }
    return render_template(
        "contacts/new.html",
        prefill=prefill,
        points=points.points(year, person_id),
        **_labels(),
    )


@bp.route("/start", methods=["POST"])
@requires_persona(LEADER)
def start():
    actor, person_id, service = _leader()
    prefill = {
        k: request.form.get(k, "")
        for k in ("kind", "target_kind", "target", "contact_point_id")
        if request.form.get(k)
    }
    record = service.start(person_id, prefill)
    return redirect(url_for("contacts.edit", record_id=record.id), code=303)


def _form_fields() -> dict[str, Any]:
    return {n: request.form.getlist(n)[-1] for n in FIELD_LABELS if n in request.form}


def _render_form(
    service: ContactRecordService, record: ContactRecord, errors: dict[str, str], status: int = 200
):
    actor = current_actor()
    query = request.args.get("find", "").strip()[:100]
    points = service.points()
    year = points.current_year(record.date or service.today())
    directory = DirectoryService(db(), service.institution_id)
    return render_template(
        "contacts/edit.html",
        record=record,
        values=service.values(record),
        errors=errors,
        points=points.points(year, record.author_id),
        found=directory.find_people(query, exclude=record.author_id),
        find=query,
        problems=service.problems(record),
        units=directory.units(),
        choices=_target_choices(actor.institution_id),
        categories={c.code: c.label for c in service.policy.problem_categories},
        saved=request.args.get("saved"),
        report_kinds=REPORT_KINDS,
        **_labels(),
    ), status


@bp.route("/<int:record_id>/edit")
@requires_persona(LEADER)
def edit(record_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    if not service.can_edit(record, person_id):
        return redirect(url_for("contacts.view", record_id=record.id), code=303)
    errors = translated(service.missing(record)) if request.args.get("check") else {}
    return _render_form(service, record, errors)


@bp.route("/<int:record_id>/edit", methods=["POST"])
@requires_persona(LEADER)
def save(record_id: int):
    """The form without JavaScript: save, and on "submit" either submit or show what is missing."""
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    result = service.autosave(record, person_id, _form_fields(), request.form.get("draft_version"))
    if result.invalid:
        return _render_form(service, record, translated(result.invalid))
    if request.form.get("action") == "submit":
        if service.missing(record):
            return redirect(
                url_for("contacts.edit", record_id=record.id, check=1, _anchor="record"), code=303
            )
        service.submit(record, person_id)
        return redirect(url_for("contacts.view", record_id=record.id, done="submitted"), code=303)
    return redirect(url_for("contacts.edit", record_id=record.id, saved=local_hhmm(service.tz)), code=303)


@bp.route("/<int:record_id>/autosave", methods=["POST"])
@requires_persona(LEADER)
def autosave(record_id: int):
    actor, person_id, service = _leader()
    body = json_body()
    record = service.get_for_member(person_id, record_id)
    result = service.autosave(record, person_id, body.get("fields") or {}, body.get("draft_version"))
    return saved_reply(record, result, service.tz)


@bp.route("/<int:record_id>/submit", methods=["POST"])
@requires_persona(LEADER)
def submit(record_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    return submit_reply(
        record,
        lambda: service.submit(record, person_id, sent_draft_version()),
        lambda errors: _render_form(service, record, errors, 422),
        url_for("contacts.view", record_id=record.id, done="submitted"),
    )


@bp.route("/<int:record_id>/discard", methods=["POST"])
@requires_persona(LEADER)
def discard(record_id: int):
    actor, person_id, service = _leader()
    service.discard(service.get_for_member(person_id, record_id), person_id)
    return redirect(url_for("contacts.mine"), code=303)


@bp.route("/<int:record_id>")
@requires_persona(LEADER)
def view(record_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    return render_template(
        "contacts/view.html",
        record=record,
        problems=service.problems(record),
        can_edit=service.can_edit(record, person_id),
        can_give_opinion=record.author_id == person_id and record.reported_by_id is not None,
        done=request.args.get("done"),
        back=url_for("contacts.mine"),
        categories={c.code: c.label for c in service.policy.problem_categories},
        **_labels(),
    )


@bp.route("/<int:record_id>/opinion", methods=["POST"])
@requires_persona(LEADER)
def opinion(record_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    service.give_opinion(record, person_id, request.form.get("leader_opinion", ""))
    return redirect(url_for("contacts.view", record_id=record.id, done="opinion"), code=303)


@bp.route("/<int:record_id>/members", methods=["POST"])
@requires_persona(LEADER)
def add_member(record_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    service.add_member(record, person_id, request.form.get("person"))
    return redirect(url_for("contacts.edit", record_id=record.id, _anchor="group"), code=303)


@bp.route("/<int:record_id>/members/<int:member_id>/remove", methods=["POST"])
@requires_persona(LEADER)
def remove_member(record_id: int, member_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    service.remove_member(record, person_id, member_id)
    return redirect(url_for("contacts.edit", record_id=record.id, _anchor="group"), code=303)


@bp.route("/<int:record_id>/problems", methods=["POST"])
@requires_persona(LEADER)
def add_problem(record_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    service.raise_problem(
        record,
        person_id,
        category=request.form.get("category", ""),
        unit_id=request.form.get("unit_id"),
        description=request.form.get("description", ""),
        photos=uploads(request.files.getlist("photos")),
    )
    target = "contacts.edit" if service.can_edit(record, person_id) else "contacts.view"
    return redirect(url_for(target, record_id=record.id, _anchor="problems"), code=303)


@bp.route("/<int:record_id>/problems/<int:problem_id>/withdraw", methods=["POST"])
@requires_persona(LEADER)
def withdraw_problem(record_id: int, problem_id: int):
    actor, person_id, service = _leader()
    record = service.get_for_member(person_id, record_id)
    service.withdraw_problem(record, person_id, problem_id)
    target = "contacts.edit" if service.can_edit(record, person_id) else "contacts.view"
    return redirect(url_for(target, record_id=record.id, _anchor="problems"), code=303)


# -- the unit side of C-1c --------------------------------------------------------------------------
@bp.route("/unit")
@requires_persona(LEADER)
def unit():
    actor = current_actor()
    service = UnitReportService(db(), actor.institution_id, _policy(actor))
    me = _me(actor)
    return render_template(
        "contacts/unit.html",
        me=me,
        leaders=service.leaders_for(me),
        reports=service.reports_by(me),
        today=service.records.today(),
        done=request.args.get("done"),
        report_kinds=REPORT_KINDS,
        **_labels(),
    )


@bp.route("/unit", methods=["POST"])
@requires_persona(LEADER)
def unit_report():
    actor = current_actor()
    service = UnitReportService(db(), actor.institution_id, _policy(actor))
    service.record(
        _me(actor),
        request.form.get("leader_id"),
        request.form.get("kind", ""),
        request.form.get("date", ""),
        request.form.get("place", ""),
        request.form.get("content", ""),
    )
    return redirect(url_for("contacts.unit", done="recorded"), code=303)


# -- the branch secretary (C-3c) --------------------------------------------------------------------
@bp.route("/branch")
@requires_persona(SECRETARY)
def branch():
    actor = current_actor()
    service = BranchConfirmationService(db(), actor.institution_id, _policy(actor))
    me = _me(actor)
    return render_template(
        "contacts/branch.html",
        branch=service.secretary_branch(me),
        waiting=service.waiting_for(me),
        decided=service.decided_by_branch(me),
        done=request.args.get("done"),
        **_labels(),
    )


@bp.route("/branch/<int:record_id>/<any(confirm, decline):decision>", methods=["POST"])
@requires_persona(SECRETARY)
def branch_decide(record_id: int, decision: str):
    actor = current_actor()
    service = BranchConfirmationService(db(), actor.institution_id, _policy(actor))
    service.decide(_me(actor), record_id, decision == "confirm")
    return redirect(url_for("contacts.branch", done=decision), code=303)


# -- the school office --------------------------------------------------------------------------------
def _office() -> tuple[Actor, Policy]:
    actor = current_actor()
    actor.require_persona(OFFICE)
    return actor, _policy(actor)


def _year(points: ContactPointService) -> str:
    return points.year(
        request.args.get("year") or request.form.get("year"),
        ContactRecordService(db(), points.institution_id, points.policy).today(),
    )


def _day(name: str) -> dt.date | None:
    text = (request.form.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("“%(value)s” is not a date (YYYY-MM-DD).", value=text[:40]) from None


@bp.route("/office/points")
@requires_persona(OFFICE)
def office_points():
    actor, policy = _office()
    points = ContactPointService(db(), actor.institution_id, policy)
    year = _year(points)
    first = int(year[:4])
    return render_template(
        "contacts/office_points.html",
        year=year,
        years=[f"{y}-{y + 1}" for y in range(first - 2, first + 2)],
        grouped=points.by_person(year),
        point_kinds=[k.value for k in ContactPointKind],
        choices=_target_choices(actor.institution_id),
        imported=_import_summary(),
        **_labels(),
    )


def _import_summary() -> dict[str, int] | None:
    if "created" not in request.args:
        return None
    return {k: request.args.get(k, 0, type=int) for k in ("created", "updated", "unchanged", "removed")}


@bp.route("/office/points", methods=["POST"])
@requires_persona(OFFICE)
def office_add_point():
    actor, policy = _office()
    points = ContactPointService(db(), actor.institution_id, policy)
    year = _year(points)
    points.add(
        actor.person_id,
        request.form.get("employee_no", ""),
        year,
        request.form.get("kind", ""),
        request.form.get("target", ""),
        _day("start"),
        _day("end"),
    )
    return redirect(url_for("contacts.office_points", year=year, _anchor="add"), code=303)


@bp.route("/office/points/<int:point_id>/remove", methods=["POST"])
@requires_persona(OFFICE)
def office_remove_point(point_id: int):
    actor, policy = _office()
    point = ContactPointService(db(), actor.institution_id, policy).remove(actor.person_id, point_id)
    return redirect(url_for("contacts.office_points", year=point.academic_year), code=303)


def _confirmed_file() -> tuple[bytes, str]:
    """The file a preview in the request sent back with its confirmation (a small file: a large one's
    preview is an import run, which keeps the file itself)."""
    try:
        data = base64.b64decode(request.form.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("The file of the preview is damaged; upload it again.") from None
    return data, request.form.get("filename", "upload.csv")[:200]


@bp.route("/office/points/import", methods=["POST"])
@requires_persona(OFFICE)
def office_import_points():
    """Upload → preview (what the import would do, nothing stored) → confirm (the same bytes, stored). A
    file beyond the inline size is previewed and stored by jobs (its import run's page)."""
    actor, policy = _office()
    transfer = ContactTransfer(db(), actor.institution_id, policy)
    who = str(actor.person_id)
    try:
        if request.form.get("confirm") == "yes":
            data, filename = _confirmed_file()
            inspect_upload(data, filename)  # the limits, as for an upload
            result = transfer.import_points(data, filename, actor=who)
            return redirect(
                url_for(
                    "contacts.office_points",
                    created=result.created,
                    updated=result.updated,
                    unchanged=result.unchanged,
                    removed=result.removed,
                ),
                code=303,
            )
        received = receive("contact_points")
        if received.run is not None:
            return follow(received.run)
        data, filename = received.data, request.files["file"].filename or ""
        preview = preview_points(transfer, data, filename, who)
    except ValidationFailed as err:
        return render_template(
            "contacts/import_failed.html", message=err.translated(), details=err.translated_details()
        ), err.status
    return render_template(
        "contacts/office_points_preview.html",
        preview=preview,
        data=base64.b64encode(data).decode(),
        filename=filename,
        **_labels(),
    )


@bp.route("/office/records")
@requires_persona(OFFICE)
def office_records():
    actor, policy = _office()
    points = ContactPointService(db(), actor.institution_id, policy)
    year = _year(points)
    start, end = academic_year_bounds(year, policy.contact.academic_year_start)
    kind = request.args.get("kind", "")
    if kind and kind not in KIND_LABELS:
        raise BadRequest("Choose one of the kinds of activity.")
    person = request.args.get("person", "").strip()[:100]
    records = ContactOfficeService(db(), actor.institution_id).records(start, end, person=person, kind=kind)
    first = int(year[:4])
    return render_template(
        "contacts/office_records.html",
        records=records,
        year=year,
        years=[f"{y}-{y + 1}" for y in range(first - 2, first + 2)],
        kind=kind,
        person=person,
        **_labels(),
    )


@bp.route("/office/records/<int:record_id>")
@requires_persona(OFFICE)
def office_record(record_id: int):
    actor, policy = _office()
    record = ContactOfficeService(db(), actor.institution_id).record(record_id)
    service = ContactRecordService(db(), actor.institution_id, policy)
    return render_template(
        "contacts/view.html",
        record=record,
        problems=service.problems(record),
        can_edit=False,
        can_give_opinion=False,
        done=None,
        back=url_for("contacts.office_records", year=service.points().current_year(record.date)),
        categories={c.code: c.label for c in policy.problem_categories},
        **_labels(),
    )


@bp.route("/office/branch")
@requires_persona(OFFICE)
def office_branch():
    actor, policy = _office()
    service = BranchConfirmationService(db(), actor.institution_id, policy)
    return render_template(
        "contacts/office_branch.html",
        waiting=service.all_waiting(),
        done=request.args.get("done"),
        **_labels(),
    )


@bp.route("/office/branch/<int:record_id>/paper", methods=["POST"])
@requires_persona(OFFICE)
def office_confirm_on_paper(record_id: int):
    actor, policy = _office()
    BranchConfirmationService(db(), actor.institution_id, policy).confirm_on_paper(actor.person_id, record_id)
    return redirect(url_for("contacts.office_branch", done="paper"), code=303)


# -- home panels ---------------------------------------------------------------------------------------
@register_panel(LEADER, 25)
def _leader_panel(actor: Actor) -> Panel | None:
    if actor.person_id is None:
        return None
    service = _records(actor)
    drafts, submitted = service.my_records(actor.person_id)
    points = service.points()
    year = points.current_year(service.today())
    me = get_scoped(db(), Person, actor.person_id, actor.institution_id)
    unit_side = bool(me and UnitReportService(db(), actor.institution_id, service.policy).leaders_for(me))
    return Panel(
        "contacts/_panel_leader.html",
        {
            "drafts": drafts,
            "submitted": submitted,
            "points": points.points(year, actor.person_id),
            "awaiting": service.awaiting_opinion(actor.person_id),
            "year": year,
            "unit_side": unit_side,
            **_labels(),
        },
    )


@register_panel(OFFICE, 20)
def _office_panel(actor: Actor) -> Panel:
    policy = _policy(actor)
    points = ContactPointService(db(), actor.institution_id, policy)
    year = points.current_year(ContactRecordService(db(), actor.institution_id, policy).today())
    waiting = BranchConfirmationService(db(), actor.institution_id, policy).all_waiting()
    return Panel(
        "contacts/_panel_office.html",
        {"year": year, "people": len(points.by_person(year)), "waiting": len(waiting)},
    )


@register_panel(SECRETARY, 20)
def _secretary_panel(actor: Actor) -> Panel | None:
    if actor.person_id is None:
        return None
    me = get_scoped(db(), Person, actor.person_id, actor.institution_id)
    if me is None:
        return None
    service = BranchConfirmationService(db(), actor.institution_id, _policy(actor))
    return Panel(
        "contacts/_panel_secretary.html",
        {"branch": service.secretary_branch(me), "waiting": service.waiting_for(me), **_labels()},
    )
