"""Compliance pages: the quality center's dashboard and drill-down, the organization department's
read-only view per cadre, and the observer's own progress panel.

Views parse, authorise and call ``ComplianceService``; the judgement itself lives in
``compliance/rules.py`` so the pages, the CLI and the execution report agree.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from lti_tool import clock
from lti_tool.compliance.services import ComplianceService
from lti_tool.directory.models import Institution, Person
from lti_tool.errors import BadRequest, NotFound
from lti_tool.i18n import N_
from lti_tool.inputs import row_id
from lti_tool.lti.sessions import Actor
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.models import Semester
from lti_tool.web import current_actor, db, requires_persona

# The dashboards keep the /policy/ addresses they always had; the policy file's own pages are policy.views.
bp = Blueprint("compliance", __name__, url_prefix="/policy")

register_nav("observer", 30, "compliance.me", N_("My duties"))
register_nav("quality_center", 10, "compliance.dashboard", N_("Compliance"), active_prefix="compliance.")
register_nav(
    "organization", 10, "compliance.dashboard", N_("Compliance per cadre"), active_prefix="compliance."
)


QC, ORG, OBSERVER = "quality_center", "organization", "observer"
VIEWERS = (QC, ORG)
START_ENDPOINT = "observations.start"


def _today(actor: Actor) -> dt.date:
    """The institution's local date (semesters and sessions are local dates)."""
    return clock.today(db().get(Institution, actor.institution_id))


def _semester(service: ComplianceService, actor: Actor) -> Semester | None:
    """``?semester=<id>``, else the semester running today (or the latest one)."""
    raw = request.args.get("semester", "").strip()
    if raw:
        semester_id = row_id(raw)
        if semester_id is None:
            raise BadRequest("“%(value)s” is not a semester.", value=raw[:40])
        return service.semester(semester_id)
    return service.default_semester(_today(actor))


def _start_url() -> str | None:
    return url_for(START_ENDPOINT) if START_ENDPOINT in current_app.view_functions else None


@bp.route("/")
@requires_persona(*VIEWERS)
def dashboard():
    """Compliance at a glance: per policy group, persons × rules, and who is short."""
    actor = current_actor()
    service = ComplianceService(db(), actor.institution_id)
    semester = _semester(service, actor)
    report = service.evaluate(semester) if semester is not None else None
    return render_template(
        "compliance/dashboard.html",
        records=service.record_count(semester) if semester is not None else 0,
        semesters=service.semesters(),
        semester=semester,
        report=report,
        groups=report.groups() if report else [],
        read_only=actor.persona != QC,
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
    gaps = service.gap_sessions(semester, pc, _today(actor)) if semester is not None and pc else []
    policy = (
        service.policy_for(semester)[0]
        if semester is not None
        else PolicyStore(db(), actor.institution_id).current()
    )
    return render_template(
        "compliance/person.html",
        who=who,
        pc=pc,
        semester=semester,
        semesters=service.semesters(),
        policy=policy,
        gaps=gaps,
        start_url=_start_url() if actor.persona == OBSERVER else None,
        own=actor.persona == OBSERVER,
    )


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


# -- the observer's home panel -------------------------------------------------------------------------------
@register_panel(OBSERVER, 5)
def _observer_panel(actor: Actor) -> Panel | None:
    """Home: my progress per rule this semester, what is missing, and the next classes that close a gap."""
    if actor.person_id is None:
        return None
    service = ComplianceService(db(), actor.institution_id)
    today = _today(actor)
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
            "gaps": service.gap_sessions(semester, pc, today),
            "start_url": _start_url(),
        },
    )
