"""Quality-center pages for the roster: units, people, and LMS users waiting to be linked.

Thin views: parse, authorise (``requires_persona``), call ``DirectoryService`` / ``IdentityService``,
render. The quality center (and a platform administrator, who gets that persona) may change things; the
organization department reads the people list and person pages. An upload goes through the same
importer as ``tingke import``: a bad row raises ``ValidationFailed``; the page answers 422 listing every
row and column, with the upload form again, and because the status is an error the request's
transaction rolls back, so nothing from the file is stored.

Home panels: the quality center gets links (with the number of unlinked LMS users); the organization
department gets the cadre list grouped as the policy groups positions.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from werkzeug.wrappers import Response

from lti_tool import clock
from lti_tool.actor import Actor
from lti_tool.directory.identity import IdentityService
from lti_tool.directory.models import PlatformUser
from lti_tool.directory.services import DirectoryService, ImportResult
from lti_tool.errors import ValidationFailed
from lti_tool.i18n import N_
from lti_tool.import_runs.views import follow, receive
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("directory", __name__, url_prefix="/directory")

register_nav("quality_center", 50, "directory.people", N_("People and units"), active_prefix="directory.")


PER_PAGE = 50
KIND_LABELS = {
    "college": lazy_gettext("Teaching college"),
    "marxism_school": lazy_gettext("Marxism School"),
    "department": lazy_gettext("Functional department"),
    "teaching_office": lazy_gettext("Teaching office"),
    "lab": lazy_gettext("Laboratory"),
    "party_branch": lazy_gettext("Party branch"),
}
BRANCH_KIND_LABELS = {
    "teacher": lazy_gettext("Teachers' branch"),
    "student": lazy_gettext("Students' branch"),
}
FUNCTION_LABELS = {
    "quality_center": lazy_gettext("Quality center"),
    "organization": lazy_gettext("Organization department"),
    "school_office": lazy_gettext("School office"),
}


def _directory(actor: Actor) -> DirectoryService:
    return DirectoryService(db(), actor.institution_id)


def _filename() -> str:
    """The uploaded file's name (``receive`` has checked there is one); the importer decides CSV or XLSX
    from it and the bytes."""
    file = request.files["file"]
    return file.filename or ""


def _import_failed(kind: str, err: ValidationFailed) -> tuple[str, int]:
    """The row/column list and the form again, so the file can be fixed and re-sent from the same page."""
    return render_template(
        "directory/import_failed.html", kind=kind, message=err.translated(), details=err.translated_details()
    ), err.status


def _imported(endpoint: str, result: ImportResult) -> Response:
    """Post/redirect/get: the list page shows what the import did (no cookie-based flash in an iframe)."""
    return redirect(
        url_for(endpoint, created=result.created, updated=result.updated, unchanged=result.unchanged),
        code=303,
    )


def _import_summary() -> dict[str, int] | None:
    if "created" not in request.args:
        return None
    return {k: request.args.get(k, 0, type=int) for k in ("created", "updated", "unchanged")}


# -- units --------------------------------------------------------------------------------------------
@bp.route("/units")
@requires_persona("quality_center")
def units():
    service = _directory(current_actor())
    return render_template(
        "directory/units.html",
        units=service.units(),
        counts=service.unit_people_counts(),
        kinds=KIND_LABELS,
        functions=FUNCTION_LABELS,
        branch_kinds=BRANCH_KIND_LABELS,
        imported=_import_summary(),
    )


@bp.route("/units/import", methods=["POST"])
@requires_persona("quality_center")
def import_units():
    try:
        received = receive("units")
        if received.run is not None:  # a large file: a worker job imports it, its page follows it
            return follow(received.run)
        result = _directory(current_actor()).import_units(received.data, _filename())
    except ValidationFailed as err:
        return _import_failed("units", err)
    return _imported("directory.units", result)


# -- people -------------------------------------------------------------------------------------------
@bp.route("/people")
@requires_persona("quality_center", "organization")
def people():
    actor = current_actor()
    search = request.args.get("q", "").strip()[:100]
    page = _directory(actor).people_page(search, request.args.get("page", 1, type=int), PER_PAGE)
    return render_template(
        "directory/people.html",
        page=page,
        q=search,
        imported=_import_summary(),
        policy=PolicyStore(db(), actor.institution_id).current(),
        today=_today(actor),
        can_import=actor.persona == "quality_center",
    )


@bp.route("/people/import", methods=["POST"])
@requires_persona("quality_center")
def import_people():
    actor = current_actor()
    try:
        received = receive("people")
        if received.run is not None:  # a large file: a worker job imports it, its page follows it
            return follow(received.run)
        policy = PolicyStore(db(), actor.institution_id).current()
        result = _directory(actor).import_people(received.data, _filename(), policy)
    except ValidationFailed as err:
        return _import_failed("people", err)
    return _imported("directory.people", result)


@bp.route("/people/<int:person_id>")
@requires_persona("quality_center", "organization")
def person(person_id: int):
    actor = current_actor()
    detail = _directory(actor).person_detail(person_id)
    return render_template(
        "directory/person.html",
        detail=detail,
        person=detail.person,
        policy=PolicyStore(db(), actor.institution_id).current(),
        today=_today(actor),
        kinds=KIND_LABELS,
    )


@bp.route("/people/<int:person_id>/accounts", methods=["POST"])
@requires_persona("quality_center", "organization")
def person_accounts(person_id: int):
    """The person's account ids in 企业微信 and 钉钉 (notifications)."""
    _directory(current_actor()).set_message_accounts(
        person_id, request.form.get("wecom_userid", ""), request.form.get("dingtalk_userid", "")
    )
    return redirect(
        url_for("directory.person", person_id=person_id, accounts=1, _anchor="message-accounts"), code=303
    )


# -- LMS users not matched to the roster ---------------------------------------------------------------
def _lms_roles(user: PlatformUser) -> list[str]:
    """The LMS roles of a user's last launch, as words (Instructor → 教学平台中的教师)."""
    short = dict.fromkeys(r.replace("/", "#").rsplit("#", 1)[-1] for r in user.roles.split())
    return [gettext(LMS_ROLE_LABELS[r]) if r in LMS_ROLE_LABELS else r for r in short]


LMS_ROLE_LABELS = {
    "Instructor": N_("Teacher in the LMS"),
    "Learner": N_("Student in the LMS"),
    "Administrator": N_("LMS administrator"),
    "TeachingAssistant": N_("Teaching assistant in the LMS"),
    "ContentDeveloper": N_("Course designer in the LMS"),
    "Mentor": N_("Mentor in the LMS"),
    "Staff": N_("Staff in the LMS"),
    "Faculty": N_("Faculty in the LMS"),
}


@bp.route("/users/unmatched")
@requires_persona("quality_center")
def unmatched():
    identity = IdentityService(db(), current_actor().institution_id)
    return render_template(
        "directory/unmatched.html",
        users=identity.unmatched(),
        learners=identity.unmatched_learners_count(),
        roles_of=_lms_roles,
        linked=request.args.get("linked", ""),
        linked_to=request.args.get("to", ""),
    )


@bp.route("/users/<int:user_id>/link", methods=["POST"])
@requires_persona("quality_center")
def link(user_id: int):
    employee_no = request.form.get("employee_no", "").strip()
    user = IdentityService(db(), current_actor().institution_id).link(user_id, employee_no)
    return redirect(
        url_for("directory.unmatched", linked=user.name or user.lti_user_id, to=employee_no), code=303
    )


# -- home panels ----------------------------------------------------------------------------------------
@register_panel("quality_center", 20)
def _quality_center_panel(actor: Actor) -> Panel:
    return Panel(
        "directory/_panel_quality_center.html",
        {"unmatched": IdentityService(db(), actor.institution_id).unmatched_count()},
    )


@register_panel("organization", 20)
def _cadre_panel(actor: Actor) -> Panel:
    policy = PolicyStore(db(), actor.institution_id).current()
    return Panel("directory/_panel_cadres.html", {"groups": _directory(actor).cadres(policy, _today(actor))})


def _today(actor: Actor) -> dt.date:
    """The college's date: positions held today (docs/decisions.md T-1)."""
    return clock.today(db().get(Institution, actor.institution_id))
