"""Compliance pages: the dashboard and drill-down of the quality center and the school office (the
organization department sees them read-only), each leader's duty page — observation and contact duties
together, each open one with its next step (issue 9 §5) — and the observer's own progress panel.

Views parse, authorise and call ``ComplianceService``; the judgement itself lives in
``compliance/rules.py`` so the pages, the CLI and the execution report agree.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from lti_tool import clock
from lti_tool.actor import Actor
from lti_tool.compliance.contacts import academic_year_for
from lti_tool.compliance.duties import OBSERVE, PATROL, RECORD, SUMMARY, NextStep, next_steps
from lti_tool.compliance.policy_switch import PolicySwitchService
from lti_tool.compliance.services import ComplianceService
from lti_tool.directory.models import Person
from lti_tool.errors import BadRequest, Conflict, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.inputs import row_id
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.schema import SYSTEMS
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester
from lti_tool.web import current_actor, db, requires_persona

# The dashboards keep the /policy/ addresses they always had; the policy file's own pages are policy.views.
bp = Blueprint("compliance", __name__, url_prefix="/policy")

register_nav("observer", 30, "compliance.me", N_("My duties"))
register_nav("school_office", 10, "compliance.dashboard", N_("Compliance"), active_prefix="compliance.")
register_nav("school_office", 20, "contact_summaries.all_summaries", N_("Year-end summaries"))
register_nav("school_office", 30, "reports.index", N_("Reports"), active_prefix="reports.")
register_nav("organization", 15, "contact_summaries.all_summaries", N_("Year-end summaries"))
register_nav("quality_center", 10, "compliance.dashboard", N_("Compliance"), active_prefix="compliance.")
register_nav(
    "organization", 10, "compliance.dashboard", N_("Compliance per cadre"), active_prefix="compliance."
)


QC, ORG, OBSERVER, SCHOOL_OFFICE = "quality_center", "organization", "observer", "school_office"
VIEWERS = (QC, ORG, SCHOOL_OFFICE)
START_ENDPOINT = "observations.start"
ACTION_ENDPOINTS = {
    RECORD: "contacts.new",
    OBSERVE: "timetable.pick",
    PATROL: "patrols.index",
    SUMMARY: "contact_summaries.mine",
}
"""Where a next step's button leads (the record form's parameters: docs/decisions.md, the duty page); a
step of another kind shows the sentence without a button."""
DEFAULT_SYSTEM = {QC: "observation", ORG: "observation", SCHOOL_OFFICE: "contact"}
"""The dashboard's first tab per persona: the school office's is its own system (附件1 七.1); the tabs show
the other system and both together."""


def _today(actor: Actor) -> dt.date:
    """The institution's local date (semesters and sessions are local dates)."""
    return clock.today(db().get(Institution, actor.institution_id))


def _now(actor: Actor) -> dt.datetime:
    """The institution's local date and wall-clock time (a class that is over cannot be suggested)."""
    return clock.now(db().get(Institution, actor.institution_id))


def _semester(service: ComplianceService, actor: Actor) -> Semester | None:
    """``?semester=<id>``, else the semester running today (or the latest one)."""
    raw = request.args.get("semester", "").strip()
    if raw:
        semester_id = row_id(raw)
        if semester_id is None:
            raise BadRequest("“%(value)s” is not a semester.", value=raw[:40])
        return service.semester(semester_id)
    return service.default_semester(_today(actor))


def _start_url() -> str:
    return url_for(START_ENDPOINT)


@bp.route("/")
@requires_persona(*VIEWERS)
def dashboard():
    """Compliance at a glance: per policy group, persons × rules, and who is short."""
    actor = current_actor()
    service = ComplianceService(db(), actor.institution_id)
    semester = _semester(service, actor)
    system = request.args.get("system", "")
    if system not in (*SYSTEMS, "all"):
        system = DEFAULT_SYSTEM.get(actor.persona, "all")
    report = (
        service.evaluate(semester, system=None if system == "all" else system)
        if semester is not None
        else None
    )
    policy = report.policy if report else None
    return render_template(
        "compliance/dashboard.html",
        system=system,
        academic_year=academic_year_for(policy, semester.week1_monday).code if policy and semester else "",
        records=service.record_count(semester) if semester is not None else 0,
        semesters=service.semesters(),
        semester=semester,
        report=report,
        groups=report.groups() if report else [],
        read_only=actor.persona == ORG,
        persona=actor.persona,
    )


@bp.route("/person/<int:person_id>")
@requires_persona(*VIEWERS)
def person(person_id: int):
    """Drill-down: one person's rules with the explanation (which courses, teachers, months)."""
    actor = current_actor()
    return _person_page(actor, person_id)


@bp.route("/me")
@requires_persona(OBSERVER)
def me():
    """The observer's own progress, as the quality center sees it."""
    actor = current_actor()
    return _person_page(actor, actor.require_person())


def _person_page(actor: Actor, person_id: int):
    service = ComplianceService(db(), actor.institution_id)
    who = db().get(Person, person_id)
    if who is None or who.institution_id != actor.institution_id:
        raise NotFound("No person %(id)s.", id=person_id)
    semester = _semester(service, actor)
    pc = service.person(semester, person_id) if semester is not None else None
    now = _now(actor)
    gaps = (
        service.gap_sessions(semester, pc, now.date(), now=now.time()) if semester is not None and pc else []
    )
    policy = (
        service.policy_for(semester)[0]
        if semester is not None
        else PolicyStore(db(), actor.institution_id).current()
    )
    own = actor.persona == OBSERVER and person_id == actor.person_id
    steps = (
        next_steps(db(), policy, pc, academic_year_for(policy, semester.week1_monday).code)
        if pc is not None and semester is not None
        else {}
    )
    return render_template(
        "compliance/person.html",
        archive_form=own
        or (
            actor.persona in (SCHOOL_OFFICE, ORG)
            and PolicyStore(db(), actor.institution_id).current().reads_personal_files(actor.persona)
        ),
        who=who,
        pc=pc,
        semester=semester,
        semesters=service.semesters(),
        policy=policy,
        gaps=gaps,
        start_url=_start_url() if own else None,
        own=own,
        steps={
            rid: [(step, _action_url(step) if own else None) for step in items]
            for rid, items in steps.items()
        },
        persona=actor.persona,
    )


def _action_url(step: NextStep) -> str | None:
    """The button's address: the contact record form prefilled, the class picker, the summary page."""
    endpoint = ACTION_ENDPOINTS.get(step.action)
    if endpoint is None:
        return None
    return url_for(endpoint, **step.query)


@bp.route("/api/compliance")
@requires_persona(*VIEWERS)
def compliance_json():
    """The dashboard's numbers as JSON (the same objects as ``tingke compliance --json``)."""
    actor = current_actor()
    service = ComplianceService(db(), actor.institution_id)
    semester = _semester(service, actor)
    if semester is None:
        raise NotFound("No semester yet.")
    return jsonify(service.evaluate(semester).to_list())


# -- a corrected policy applied to a running semester (issue 11 §10) -----------------------------------------
@bp.route("/switch")
@requires_persona(QC)
def switch_index():
    """The semesters with the policy version each is judged under, the newest version, and the audit of
    every switch made."""
    actor = current_actor()
    service = PolicySwitchService(db(), actor.institution_id)
    return render_template(
        "compliance/switch_index.html",
        semesters=service.compliance.semesters(),
        newest=PolicyStore(db(), actor.institution_id).current_version(),
        versions=service.version_numbers(),
        history=service.history(),
        done=request.args.get("done", ""),
    )


@bp.route("/switch/<int:semester_id>")
@requires_persona(QC)
def switch_preview(semester_id: int):
    """What moving the semester to the newest policy version changes: rules and compliance."""
    actor = current_actor()
    preview = PolicySwitchService(db(), actor.institution_id).preview(semester_id)
    return render_template("compliance/switch.html", preview=preview, error=None)


@bp.route("/switch/<int:semester_id>", methods=["POST"])
@requires_persona(QC)
def switch_apply(semester_id: int):
    actor = current_actor()
    service = PolicySwitchService(db(), actor.institution_id)
    form = request.form
    to_version, from_version = row_id(form.get("to_version")), row_id(form.get("from_version"))
    if to_version is None or from_version is None:
        raise BadRequest("The form is incomplete; open the preview again.")
    try:
        if form.get("confirm") != "1":
            raise ValidationFailed("Tick the box to confirm the switch.")
        row = service.apply(semester_id, to_version, from_version, form.get("reason", ""), actor.person_id)
    except (ValidationFailed, Conflict) as exc:  # the preview again, with what to correct (nothing stored)
        preview = service.preview(semester_id, to_version)
        return render_template("compliance/switch.html", preview=preview, error=exc), exc.status
    semester = service.compliance.semester(row.semester_id)
    return redirect(url_for("compliance.switch_index", done=semester.code), code=303)


# -- the observer's home panel -------------------------------------------------------------------------------
@register_panel(OBSERVER, 5)
def _observer_panel(actor: Actor) -> Panel | None:
    """Home: my progress per rule this semester, what is missing, and the next classes that close a gap."""
    if actor.person_id is None:
        return None
    service = ComplianceService(db(), actor.institution_id)
    now = _now(actor)
    today = now.date()
    semester = service.default_semester(today)
    if semester is None:
        return None
    pc = service.person(semester, actor.person_id)
    if pc is None:
        return None
    return Panel(
        "compliance/_observer_panel.html",
        {
            "semester": semester,
            "pc": pc,
            "gaps": service.gap_sessions(semester, pc, today, now=now.time()),
            "start_url": _start_url(),
        },
    )
