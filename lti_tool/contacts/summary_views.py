"""Year-end contact summaries (C-7b): the leader drafts, edits and submits; the school office receives.

- ``GET /contacts/summary/`` (a leader, persona observer): my summary of the academic year (``?year=``),
  drafted from my records the first time; ``POST`` saves it, or submits it (``action=submit``), refusing a
  stale ``version`` (409) and a submitted one.
- ``POST /contacts/summary/redraft``: the text proposed from the records again (a confirmation first: it
  replaces what the leader wrote in the first three fields).
- ``GET /contacts/summary/all`` (school office; the organization department read-only): the year's
  summaries with their status; ``/contacts/summary/<id>`` one of them, ``…/receive`` files it, ``…/return``
  sends a submitted one back to its author. Missing and late summaries are C-7b rows in compliance.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from lti_tool import clock
from lti_tool.academic_year import academic_year_of, parse_academic_year
from lti_tool.actor import Actor
from lti_tool.contacts.summaries import (
    FIELDS,
    ContactSummary,
    SummaryService,
    SummaryStatus,
    summary_deadline,
)
from lti_tool.directory.models import Person
from lti_tool.errors import BadRequest, Forbidden
from lti_tool.inputs import parse_int
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("contact_summaries", __name__, url_prefix="/contacts/summary")

LEADER, SCHOOL_OFFICE, ORG = "observer", "school_office", "organization"


def _service(actor: Actor) -> SummaryService:
    return SummaryService(db(), actor.institution_id, actor.person_id)


def _year(actor: Actor) -> str:
    """``?year=2026-2027`` (any spelling ``parse_academic_year`` reads), else the year of today."""
    contact = PolicyStore(db(), actor.institution_id).current().contact
    raw = (request.values.get("year") or "").strip()
    if raw:
        try:
            return parse_academic_year(raw[:20])
        except ValueError:
            raise BadRequest(
                "“%(value)s” is not an academic year such as 2026-2027.", value=raw[:20]
            ) from None
    return academic_year_of(
        clock.today(db().get(Institution, actor.institution_id)), contact.academic_year_start
    )


def _version() -> int:
    version = parse_int(request.form.get("version", ""))
    if version is None:
        raise BadRequest("The form is incomplete; reload the page.")
    return version


@bp.route("/")
@requires_persona(LEADER)
def mine():
    actor = current_actor()
    person_id = actor.require_person()
    year = _year(actor)
    policy = PolicyStore(db(), actor.institution_id).current()
    summary = _service(actor).get_or_draft(person_id, year, policy.contact.academic_year_start)
    return render_template(
        "contacts/summary.html",
        summary=summary,
        year=year,
        deadline=summary_deadline(policy.contact, year),
        editable=summary.status != SummaryStatus.SUBMITTED,
        saved=request.args.get("saved", ""),
        own=True,
    )


@bp.route("/", methods=["POST"])
@requires_persona(LEADER)
def save():
    actor = current_actor()
    person_id = actor.require_person()
    year = _year(actor)
    fields = {key: request.form.get(key, "") for key in FIELDS}
    submit = request.form.get("action") == "submit"
    _service(actor).save(person_id, year, fields, _version(), submit=submit)
    return redirect(
        url_for("contact_summaries.mine", year=year, saved="submitted" if submit else "saved"), code=303
    )


@bp.route("/redraft", methods=["POST"])
@requires_persona(LEADER)
def redraft():
    """Replace the drafted fields with the text proposed from the records now (the reflection is kept)."""
    actor = current_actor()
    person_id = actor.require_person()
    year = _year(actor)
    policy = PolicyStore(db(), actor.institution_id).current()
    service = _service(actor)
    current = service.get(person_id, year)
    fields = service.draft_text(person_id, year, policy.contact.academic_year_start)
    fields["reflection"] = current.reflection if current else ""
    service.save(person_id, year, fields, _version())
    return redirect(url_for("contact_summaries.mine", year=year, saved="redrafted"), code=303)


@bp.route("/all")
@requires_persona(SCHOOL_OFFICE, ORG)
def all_summaries():
    actor = current_actor()
    year = _year(actor)
    policy = PolicyStore(db(), actor.institution_id).current()
    return render_template(
        "contacts/summaries.html",
        summaries=_service(actor).for_year(year),
        year=year,
        deadline=summary_deadline(policy.contact, year),
        can_receive=actor.persona == SCHOOL_OFFICE,
    )


def _visible(actor: Actor, summary_id: int) -> ContactSummary:
    row = _service(actor).by_id(summary_id)
    if actor.persona in (SCHOOL_OFFICE, ORG):
        if row.status != SummaryStatus.SUBMITTED:
            raise Forbidden("This summary has not been submitted yet.")
        return row
    if row.person_id != actor.person_id:
        raise Forbidden("This is not your summary.")
    return row


@bp.route("/<int:summary_id>")
@requires_persona(SCHOOL_OFFICE, ORG, LEADER)
def show(summary_id: int):
    actor = current_actor()
    row = _visible(actor, summary_id)
    policy = PolicyStore(db(), actor.institution_id).current()
    return render_template(
        "contacts/summary.html",
        summary=row,
        year=row.academic_year,
        deadline=summary_deadline(policy.contact, row.academic_year),
        editable=False,
        own=row.person_id == actor.person_id,
        who=db().get(Person, row.person_id),
        can_receive=actor.persona == SCHOOL_OFFICE,
        saved=request.args.get("saved", ""),
    )


@bp.route("/<int:summary_id>/receive", methods=["POST"])
@requires_persona(SCHOOL_OFFICE)
def receive(summary_id: int):
    actor = current_actor()
    row = _service(actor).receive(summary_id)
    return redirect(url_for("contact_summaries.show", summary_id=row.id, saved="received"), code=303)


@bp.route("/<int:summary_id>/return", methods=["POST"])
@requires_persona(SCHOOL_OFFICE)
def return_to_author(summary_id: int):
    actor = current_actor()
    row = _service(actor).return_to_author(summary_id)
    return redirect(url_for("contact_summaries.all_summaries", year=row.academic_year), code=303)
