"""Pages of the school leaders' division of work, reception days, letters and proposals (issue 12 §1–4).

- the school office: the division of work (edit, import), the reception roster (assign, swap, import), the
  letters (register, screen, route, check, release), the congress sessions and their proposals;
- a school leader: their reception weeks and the phone-first record of a week; the letters routed to them;
- a unit: the letters and proposals it handles or assists (one list, one loop);
- anybody launched — a student too: write to the school leaders and read their own letters' answers.

One page shows a letter or a proposal to everybody with a part in it (``item``), with the steps the viewer may
take (``FollowUpService.allowed``): each step is a POST to ``item_step``. Views parse, authorise and call one
service method.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale, lazy_gettext
from sqlalchemy import select

from lti_tool.actor import Actor
from lti_tool.directory.models import Person, Unit, UnitKind
from lti_tool.directory.services import DirectoryService
from lti_tool.errors import BadRequest, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.import_runs.views import follow, receive
from lti_tool.inputs import id_field
from lti_tool.nav import register_nav
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import Acting, FollowUpService, parse_day
from lti_tool.outreach.letters import AUTO, LetterService
from lti_tool.outreach.models import (
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Letter,
    Proposal,
    ReceptionRecord,
    WeekState,
)
from lti_tool.outreach.proposals import ProposalService
from lti_tool.outreach.reception import ReceptionService, VisitInput
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.schema import Policy
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import inspect_upload
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("outreach", __name__, url_prefix="/outreach")

ROUTABLE_KINDS = (UnitKind.DEPARTMENT, UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL)
"""The units a problem, a letter or a proposal is routed to: departments and colleges."""

OFFICE, LEADER, HANDLER = "school_office", "observer", "handler"
EVERY_PERSONA = (
    "",
    "observer",
    "teacher",
    "handler",
    "quality_center",
    "organization",
    "school_office",
    "branch_secretary",
)

# -- words shown for codes (no code reaches a person) --------------------------------------------------------
LETTER_STATES = {
    "received": lazy_gettext("Waiting to be screened"),
    "with_leader": lazy_gettext("With the leader for instruction"),
    "with_unit": lazy_gettext("Being handled by the unit"),
    "answered": lazy_gettext("Answer being checked by the school office"),
    "released": lazy_gettext("Answer released"),
    "closed": lazy_gettext("Closed"),
}
PROPOSAL_STATES = {
    "received": lazy_gettext("Waiting for acceptance"),
    "with_unit": lazy_gettext("Being handled by the unit"),
    "answered": lazy_gettext("Answer being checked by the school office"),
    "released": lazy_gettext("Waiting for the proposer's view"),
    "closed": lazy_gettext("Closed"),
}
WRITER_STATES = {
    "received": lazy_gettext("Received"),
    "with_leader": lazy_gettext("Being handled"),
    "with_unit": lazy_gettext("Being handled"),
    "answered": lazy_gettext("Being handled"),
    "released": lazy_gettext("Answered"),
    "closed": lazy_gettext("Closed"),
}
OUTCOMES = {
    "answered": lazy_gettext("Answered"),
    "duplicate": lazy_gettext("Duplicate letter"),
    "not_for_leaders": lazy_gettext("Not a matter for the school leaders"),
    "declined": lazy_gettext("Not accepted as a proposal"),
    "withdrawn": lazy_gettext("Withdrawn"),
}
STEPS = {
    "received": lazy_gettext("Received"),
    "accept": lazy_gettext("Accepted and routed"),
    "reroute": lazy_gettext("Routing or deadline changed"),
    "close": lazy_gettext("Closed at screening"),
    "instruct": lazy_gettext("Instruction (批示) given"),
    "answer": lazy_gettext("Answered by the unit"),
    "return": lazy_gettext("Sent back to the unit"),
    "release": lazy_gettext("Answer released"),
    "satisfaction": lazy_gettext("Proposer's view recorded"),
    "withdraw": lazy_gettext("Withdrawn"),
}
CHANNELS = {
    "tool": lazy_gettext("Written in Tingke"),
    "email": lazy_gettext("E-mail"),
    "paper": lazy_gettext("Paper letter"),
    "other": lazy_gettext("Other"),
}
BODIES = {
    "staff": lazy_gettext("Staff congress (教代会)"),
    "student": lazy_gettext("Student congress (学代会)"),
}
SATISFACTION = {
    "satisfied": lazy_gettext("Satisfied"),
    "basic": lazy_gettext("Basically satisfied"),
    "unsatisfied": lazy_gettext("Not satisfied"),
}
IDENTITIES = {
    "teacher": lazy_gettext("Teacher"),
    "student": lazy_gettext("Student"),
    "staff": lazy_gettext("Staff"),
    "retiree": lazy_gettext("Retiree"),
    "other": lazy_gettext("Other"),
}
VISIT_OUTCOMES = {
    "adopted": lazy_gettext("Adopted"),
    "explained": lazy_gettext("Explained"),
    "solved": lazy_gettext("Coordinated and solved"),
}
WEEK_STATES = {
    "recorded": lazy_gettext("Recorded"),
    "missing": lazy_gettext("Not recorded"),
    "current": lazy_gettext("This week"),
    "upcoming": lazy_gettext("Upcoming"),
}


def state_label(fu: FollowUp, viewer: str = "office") -> str:
    """The state of a letter or proposal in words; the writer sees a simpler one."""
    if fu.status == FollowUpStatus.CLOSED:
        return str(OUTCOMES.get(fu.outcome, LETTER_STATES["closed"]))
    if viewer == "writer":
        return str(WRITER_STATES.get(fu.status, fu.status))
    table = LETTER_STATES if fu.kind == FollowUpKind.LETTER else PROPOSAL_STATES
    return str(table.get(fu.status, fu.status))


def _area_label(policy: Policy, code: str) -> str:
    return policy.contact.area_label(code, str(get_locale() or "zh_CN")) if code else ""


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "outreach_state": state_label,
        "outcome_labels": OUTCOMES,
        "step_labels": STEPS,
        "channel_labels": CHANNELS,
        "body_labels": BODIES,
        "satisfaction_labels": SATISFACTION,
        "identity_labels": IDENTITIES,
        "visit_outcome_labels": VISIT_OUTCOMES,
        "week_state_labels": WEEK_STATES,
    }


# -- who is who ----------------------------------------------------------------------------------------------
def _policy(actor: Actor) -> Policy:
    return PolicyStore(db(), actor.institution_id).current()


def _is_leader(actor: Actor) -> bool:
    """A school leader today (a position of the policy's school-leaders group)."""
    if actor.person_id is None:
        return False
    return DivisionService(db(), actor.institution_id, _policy(actor)).is_leader(actor.person_id)


def _my_unit(actor: Actor) -> int | None:
    if actor.person_id is None:
        return None
    return db().scalar(
        select(Person.unit_id).where(
            Person.id == actor.person_id, Person.institution_id == actor.institution_id
        )
    )


def _has_unit_items(actor: Actor) -> bool:
    unit_id = _my_unit(actor)
    if unit_id is None:
        return False
    return FollowUpService(db(), actor.institution_id, _policy(actor)).has_items_for_unit(unit_id)


def _platform_user_id(actor: Actor, letters: LetterService) -> int | None:
    user = letters.platform_user(actor.platform_id, actor.claims.user_id)
    return user.id if user is not None else None


register_nav(OFFICE, 8, "outreach.office_division", N_("Division of work"))
register_nav(
    OFFICE, 9, "outreach.office_reception", N_("Reception days"), active_prefix="outreach.office_rec"
)
register_nav(
    OFFICE, 10, "outreach.office_letters", N_("Letters to the leaders"), active_prefix="outreach.office_let"
)
register_nav(
    OFFICE, 11, "outreach.office_congress", N_("Congress proposals"), active_prefix="outreach.office_con"
)
register_nav(
    LEADER, 40, "outreach.my_reception", N_("Reception days"), when=_is_leader, active_prefix="outreach.rec"
)
register_nav(LEADER, 41, "outreach.leader_letters", N_("Letters to me"), when=_is_leader)
register_nav(HANDLER, 50, "outreach.unit_items", N_("Letters and proposals to answer"))
for _persona in ("observer", "teacher", "branch_secretary"):
    register_nav(
        _persona, 50, "outreach.unit_items", N_("Letters and proposals to answer"), when=_has_unit_items
    )
register_nav("", 0, "home.index", N_("Home"))
for _persona in EVERY_PERSONA:
    register_nav(
        _persona,
        90,
        "outreach.my_letters",
        N_("Write to the school leaders"),
        active_prefix="outreach.letter",
    )


def _office() -> tuple[Actor, Policy]:
    actor = current_actor()
    actor.require_persona(OFFICE)
    return actor, _policy(actor)


def _confirmed_file() -> tuple[bytes, str]:
    """The file a preview in the request sent back with its confirmation (a small file: a large one's
    preview is an import run, which keeps the file itself)."""
    try:
        data = base64.b64decode(request.form.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("The file of the preview is damaged; upload it again.") from None
    inspect_upload(data, request.form.get("filename", "upload.csv"))  # the limits, as for an upload
    return data, request.form.get("filename", "upload.csv")[:200]


def _preview_or_store(
    kind: str,
    run: Callable[[bytes, str, bool], Any],
    back: str,
    template: str,
    options: dict[str, Any] | None = None,
    **context: Any,
) -> Any:
    """Upload → preview (nothing stored) → confirm (the same bytes, stored); a bad file lists its problems
    by row and column with a link back to the form. A file beyond the inline size is previewed and stored
    by jobs (its import run's page, ``lti_tool/import_runs``)."""
    confirm = request.form.get("confirm") == "yes"
    try:
        if confirm:
            data, filename = _confirmed_file()
        else:
            received = receive(kind, options=options)
            if received.run is not None:
                return follow(received.run)
            data, filename = received.data, request.files["file"].filename or ""
        result = run(data, filename, confirm)
    except ValidationFailed as err:
        return render_template(
            "outreach/import_failed.html",
            message=err.translated(),
            details=err.translated_details(),
            back=back,
        ), err.status
    if confirm:
        return redirect(back + ("&" if "?" in back else "?") + f"imported={len(result.rows)}", code=303)
    return render_template(
        template, result=result, data=base64.b64encode(data).decode(), filename=filename, back=back, **context
    )


# -- the school office: division of work ---------------------------------------------------------------------
@bp.route("/office/division")
@requires_persona(OFFICE)
def office_division():
    actor, policy = _office()
    service = DivisionService(db(), actor.institution_id, policy)
    year = service.year(request.args.get("year"))
    first = int(year[:4])
    return render_template(
        "outreach/division.html",
        year=year,
        years=[f"{y}-{y + 1}" for y in range(first - 2, first + 2)],
        areas=[(a.code, a.display(str(get_locale()))) for a in policy.contact.work_areas],
        portfolios=service.portfolios(year),
        leaders=service.leaders(year),
        saved=request.args.get("saved"),
        imported=request.args.get("imported"),
    )


@bp.route("/office/division", methods=["POST"])
@requires_persona(OFFICE)
def office_division_save():
    actor, policy = _office()
    service = DivisionService(db(), actor.institution_id, policy)
    year = service.year(request.form.get("year"))
    choices = {
        code: (request.form.get(f"leader-{code}", ""), request.form.get(f"note-{code}", ""))
        for code in service.area_codes()
    }
    service.save_year(year, choices)
    return redirect(url_for("outreach.office_division", year=year, saved=1), code=303)


@bp.route("/office/division/import", methods=["POST"])
@requires_persona(OFFICE)
def office_division_import():
    actor, policy = _office()
    service = DivisionService(db(), actor.institution_id, policy)
    return _preview_or_store(
        "division",
        lambda data, filename, store: service.import_file(data, filename, store=store),
        url_for("outreach.office_division"),
        "outreach/division_preview.html",
    )


# -- the school office: reception roster ---------------------------------------------------------------------
def _semester_arg(service: ReceptionService, source: Any) -> Any:
    semester = service.semester(id_field(source, "semester"))
    if semester is None:
        raise NotFound("No semester has been set up yet.")
    return semester


@bp.route("/office/reception")
@requires_persona(OFFICE)
def office_reception():
    actor, policy = _office()
    service = ReceptionService(db(), actor.institution_id, policy)
    semester = _semester_arg(service, request.args)
    roster = service.roster(semester)
    return render_template(
        "outreach/roster.html",
        semester=semester,
        semesters=service.semesters.all(),
        roster=roster,
        leaders=service.leaders(semester),
        missing=[w for w in roster if w.state == WeekState.MISSING],
        unscheduled=[w for w in roster if w.duty is None],
        saved=request.args.get("saved"),
        imported=request.args.get("imported"),
        swapped=request.args.get("swapped"),
    )


@bp.route("/office/reception", methods=["POST"])
@requires_persona(OFFICE)
def office_reception_save():
    """The roster form: each week's leader and place; weeks whose choice did not change are left alone. A save
    that takes a leader off a week is shown first and stored only once the office confirms it."""
    actor, policy = _office()
    service = ReceptionService(db(), actor.institution_id, policy)
    semester = _semester_arg(service, request.form)
    choices = {
        week: (request.form.get(f"leader-{week}", ""), request.form.get(f"place-{week}", ""))
        for week in range(1, semester.weeks + 1)
        if f"leader-{week}" in request.form
    }
    changes = service.roster_changes(semester, choices)
    removed = [c for c in changes if c.removes]
    if removed and request.form.get("confirm") != "yes":
        return render_template(
            "outreach/roster_confirm.html",
            semester=semester,
            removed=removed,
            changes=changes,
            back=url_for("outreach.office_reception", semester=semester.id),
        )
    service.apply_roster(semester, changes)
    return redirect(url_for("outreach.office_reception", semester=semester.id, saved=1), code=303)


@bp.route("/office/reception/swap", methods=["POST"])
@requires_persona(OFFICE)
def office_reception_swap():
    actor, policy = _office()
    service = ReceptionService(db(), actor.institution_id, policy)
    semester = _semester_arg(service, request.form)
    a, b = service.swap(semester, request.form.get("week_a", ""), request.form.get("week_b", ""))
    return redirect(url_for("outreach.office_reception", semester=semester.id, swapped=f"{a}-{b}"), code=303)


@bp.route("/office/reception/import", methods=["POST"])
@requires_persona(OFFICE)
def office_reception_import():
    actor, policy = _office()
    service = ReceptionService(db(), actor.institution_id, policy)
    semester = _semester_arg(service, request.form)
    return _preview_or_store(
        "reception_roster",
        lambda data, filename, store: service.import_roster(semester, data, filename, store=store),
        url_for("outreach.office_reception", semester=semester.id),
        "outreach/roster_preview.html",
        options={"semester": semester.id},
        semester=semester,
    )


@bp.route("/office/reception/records/<int:reception_id>")
@requires_persona(OFFICE)
def office_reception_record(reception_id: int):
    actor, policy = _office()
    service = ReceptionService(db(), actor.institution_id, policy)
    record = service.record(reception_id)
    start, end = service.bounds(record.duty)
    return render_template(
        "outreach/reception_view.html",
        record=record,
        start=start,
        end=end,
        problems=_problems_of(record),
        back=url_for("outreach.office_reception", semester=record.duty.semester_id),
    )


def _problems_of(record: ReceptionRecord) -> dict[int, Any]:
    from lti_tool.problems.models import Problem

    ids = [v.id for v in record.visits]
    if not ids:
        return {}
    rows = db().scalars(select(Problem).where(Problem.reception_visit_id.in_(ids)))
    return {p.reception_visit_id: p for p in rows if p.reception_visit_id is not None}


# -- the school leader: reception weeks ----------------------------------------------------------------------
def _leader() -> tuple[Actor, int, ReceptionService]:
    actor = current_actor()
    actor.require_persona(LEADER)
    return actor, actor.require_person(), ReceptionService(db(), actor.institution_id, _policy(actor))


@bp.route("/reception")
@requires_persona(LEADER)
def my_reception():
    actor, person_id, service = _leader()
    semester = service.semester(id_field(request.args, "semester"))
    return render_template(
        "outreach/my_reception.html",
        semester=semester,
        weeks=service.my_weeks(person_id, semester),
        today=service.today(),
    )


@bp.route("/reception/<int:duty_id>")
@requires_persona(LEADER)
def reception_week(duty_id: int):
    actor, person_id, service = _leader()
    duty = service.my_duty(duty_id, person_id)
    start, end = service.bounds(duty)
    categories = [(c.code, c.display(str(get_locale()))) for c in service.policy.problem_categories]
    units = db().scalars(
        select(Unit)
        .where(Unit.institution_id == actor.institution_id, Unit.kind.in_(ROUTABLE_KINDS))
        .order_by(Unit.kind, Unit.code)
    )
    record = duty.record
    return render_template(
        "outreach/reception_week.html",
        duty=duty,
        record=record,
        start=start,
        end=end,
        begun=start <= service.today(),
        problems=_problems_of(record) if record is not None else {},
        categories=categories,
        units=list(units),
        done=request.args.get("done"),
    )


@bp.route("/reception/<int:duty_id>/open", methods=["POST"])
@requires_persona(LEADER)
def reception_open(duty_id: int):
    actor, person_id, service = _leader()
    service.open_record(service.my_duty(duty_id, person_id), person_id)
    return redirect(url_for("outreach.reception_week", duty_id=duty_id), code=303)


def _my_record(service: ReceptionService, duty_id: int, person_id: int) -> ReceptionRecord:
    duty = service.my_duty(duty_id, person_id)
    if duty.record is None:
        return service.open_record(duty, person_id)
    return duty.record


@bp.route("/reception/<int:duty_id>/details", methods=["POST"])
@requires_persona(LEADER)
def reception_details(duty_id: int):
    actor, person_id, service = _leader()
    record = _my_record(service, duty_id, person_id)
    service.update(
        record,
        person_id,
        date=request.form.get("date", ""),
        place=request.form.get("place", ""),
        no_visitors=request.form.get("no_visitors") == "yes",
    )
    if request.form.get("action") == "submit":
        service.submit(record, person_id)
        return redirect(url_for("outreach.reception_week", duty_id=duty_id, done="submitted"), code=303)
    return redirect(url_for("outreach.reception_week", duty_id=duty_id, done="saved"), code=303)


@bp.route("/reception/<int:duty_id>/visits", methods=["POST"])
@requires_persona(LEADER)
def reception_add_visit(duty_id: int):
    actor, person_id, service = _leader()
    record = _my_record(service, duty_id, person_id)
    fields = {name: request.form.get(name, "") for name in VisitInput.__dataclass_fields__}
    service.add_visit(record, person_id, VisitInput(**fields))
    return redirect(
        url_for("outreach.reception_week", duty_id=duty_id, done="visit", _anchor="visits"), code=303
    )


@bp.route("/reception/<int:duty_id>/visits/<int:visit_id>/remove", methods=["POST"])
@requires_persona(LEADER)
def reception_remove_visit(duty_id: int, visit_id: int):
    actor, person_id, service = _leader()
    record = _my_record(service, duty_id, person_id)
    service.remove_visit(record, person_id, visit_id)
    return redirect(url_for("outreach.reception_week", duty_id=duty_id, _anchor="visits"), code=303)


@bp.route("/reception/<int:duty_id>/submit", methods=["POST"])
@requires_persona(LEADER)
def reception_submit(duty_id: int):
    actor, person_id, service = _leader()
    record = _my_record(service, duty_id, person_id)
    service.submit(record, person_id)
    return redirect(url_for("outreach.reception_week", duty_id=duty_id, done="submitted"), code=303)


# -- letters: writing and reading one's own ------------------------------------------------------------------
def _letters(actor: Actor) -> LetterService:
    return LetterService(db(), actor.institution_id, _policy(actor))


@bp.route("/letters")
def my_letters():
    actor = current_actor()
    letters = _letters(actor)
    pu = _platform_user_id(actor, letters)
    return render_template(
        "outreach/my_letters.html",
        letters=letters.mine(actor.person_id, pu),
        proposals=ProposalService(db(), actor.institution_id, letters.policy).mine(actor.person_id),
        written=request.args.get("written"),
    )


@bp.route("/letters/new")
def letter_new():
    current_actor()
    return render_template("outreach/letter_write.html", values={})


@bp.route("/letters/new", methods=["POST"])
def letter_write():
    actor = current_actor()
    letters = _letters(actor)
    letter = letters.write(
        person_id=actor.person_id,
        platform_user_id=_platform_user_id(actor, letters),
        name=actor.claims.name,
        subject=request.form.get("subject", ""),
        body=request.form.get("body", ""),
        anonymous=request.form.get("anonymous") == "yes",
    )
    return redirect(url_for("outreach.my_letters", written=letter.id), code=303)


@bp.route("/letters/<int:letter_id>")
def letter_mine(letter_id: int):
    actor = current_actor()
    letters = _letters(actor)
    letter = letters.mine_one(letter_id, actor.person_id, _platform_user_id(actor, letters))
    return render_template("outreach/letter_mine.html", letter=letter, fu=letter.follow_up)


# -- the school office: letters ------------------------------------------------------------------------------
LETTER_FILTERS = {
    "open": lazy_gettext("Open"),
    "screening": lazy_gettext("To screen"),
    "check": lazy_gettext("Answers to check"),
    "overdue": lazy_gettext("Overdue"),
    "closed": lazy_gettext("Closed"),
    "all": lazy_gettext("All"),
}


@bp.route("/office/letters")
@requires_persona(OFFICE)
def office_letters():
    actor, policy = _office()
    show = request.args.get("show", "open")
    if show not in LETTER_FILTERS:
        raise BadRequest("“%(value)s” is not one of the choices offered.", value=show[:40])
    letters = LetterService(db(), actor.institution_id, policy)
    return render_template(
        "outreach/office_letters.html",
        letters=letters.office_list(show),
        show=show,
        filters=LETTER_FILTERS,
        counts=letters.counts(),
        today=letters.today(),
        is_overdue=letters.loop.is_overdue,
    )


@bp.route("/office/letters/new")
@requires_persona(OFFICE)
def office_letter_new():
    actor, policy = _office()
    return render_template(
        "outreach/letter_register.html", today=LetterService(db(), actor.institution_id, policy).today()
    )


@bp.route("/office/letters/new", methods=["POST"])
@requires_persona(OFFICE)
def office_letter_register():
    actor, policy = _office()
    letter = LetterService(db(), actor.institution_id, policy).register(
        actor.person_id,
        channel=request.form.get("channel", ""),
        subject=request.form.get("subject", ""),
        body=request.form.get("body", ""),
        writer_name=request.form.get("writer_name", ""),
        writer_contact=request.form.get("writer_contact", ""),
        anonymous=request.form.get("anonymous") == "yes",
        received_on=request.form.get("received_on", ""),
    )
    return redirect(url_for("outreach.item", follow_up_id=letter.follow_up_id, done="registered"), code=303)


# -- the school leader: letters routed to them ---------------------------------------------------------------
@bp.route("/leader/letters")
@requires_persona(LEADER)
def leader_letters():
    actor = current_actor()
    person_id = actor.require_person()
    letters = _letters(actor)
    rows = letters.for_leader(person_id)
    return render_template(
        "outreach/leader_letters.html",
        letters=rows,
        is_overdue=letters.loop.is_overdue,
        today=letters.today(),
    )


# -- a unit: letters and proposals to answer -----------------------------------------------------------------
@bp.route("/unit")
def unit_items():
    actor = current_actor()
    unit_id = _my_unit(actor)
    loop = FollowUpService(db(), actor.institution_id, _policy(actor))
    items = loop.for_unit(unit_id) if unit_id is not None else []
    unit = db().get(Unit, unit_id) if unit_id is not None else None
    return render_template(
        "outreach/unit_items.html", items=items, unit=unit, is_overdue=loop.is_overdue, unit_id=unit_id
    )


# -- the school office: congress sessions and proposals ------------------------------------------------------
@bp.route("/office/congress")
@requires_persona(OFFICE)
def office_congress():
    actor, policy = _office()
    service = ProposalService(db(), actor.institution_id, policy)
    sessions = service.sessions()
    return render_template(
        "outreach/congress.html",
        sessions=[(c, service.tally(service.listing(c))) for c in sessions],
        today=service.today(),
    )


@bp.route("/office/congress", methods=["POST"])
@requires_persona(OFFICE)
def office_congress_create():
    actor, policy = _office()
    congress = ProposalService(db(), actor.institution_id, policy).create_session(
        body=request.form.get("body", ""),
        number=request.form.get("number", ""),
        title=request.form.get("title", ""),
        held_on=request.form.get("held_on", ""),
    )
    return redirect(url_for("outreach.office_congress_session", congress_id=congress.id), code=303)


@bp.route("/office/congress/<int:congress_id>")
@requires_persona(OFFICE)
def office_congress_session(congress_id: int):
    actor, policy = _office()
    service = ProposalService(db(), actor.institution_id, policy)
    congress = service.congress(congress_id)
    proposals = service.listing(congress)
    return render_template(
        "outreach/congress_session.html",
        congress=congress,
        proposals=proposals,
        tally=service.tally(proposals),
        is_overdue=service.loop.is_overdue,
        registered=request.args.get("registered"),
    )


@bp.route("/office/congress/<int:congress_id>/proposals", methods=["POST"])
@requires_persona(OFFICE)
def office_proposal_register(congress_id: int):
    actor, policy = _office()
    service = ProposalService(db(), actor.institution_id, policy)
    proposal = service.register(
        service.congress(congress_id),
        actor.person_id,
        proposer_name=request.form.get("proposer_name", ""),
        proposer_employee_no=request.form.get("proposer_employee_no", ""),
        cosigners=request.form.get("cosigners", ""),
        title=request.form.get("title", ""),
        content=request.form.get("content", ""),
    )
    return redirect(
        url_for("outreach.office_congress_session", congress_id=congress_id, registered=proposal.number),
        code=303,
    )


# -- one page per letter or proposal, for everybody with a part in it ----------------------------------------
def _viewer(fu: FollowUp) -> tuple[Actor, Acting, Letter | None, Proposal | None]:
    """The actor's part in the item; nobody without one learns that it exists (404)."""
    actor = current_actor()
    loop = FollowUpService(db(), actor.institution_id, _policy(actor))
    letter, proposal = fu.letter, fu.proposal
    office = actor.persona == OFFICE
    originator = False
    if letter is not None:
        pu = _platform_user_id(actor, _letters(actor))
        originator = LetterService.is_writer(letter, actor.person_id, pu)
    elif proposal is not None:
        originator = office or (actor.person_id is not None and proposal.proposer_id == actor.person_id)
    acting = Acting(actor.person_id, office=office, originator=originator)
    roles = loop.roles(fu, acting)
    if not roles or roles == {"originator"} and letter is not None:
        # a letter's writer reads it on their own page (outreach.letter_mine), without the handling
        raise NotFound("No such item.")
    return actor, acting, letter, proposal


@bp.route("/items/<int:follow_up_id>")
def item(follow_up_id: int):
    actor = current_actor()
    policy = _policy(actor)
    loop = FollowUpService(db(), actor.institution_id, policy)
    fu = loop.get(follow_up_id)
    actor, acting, letter, proposal = _viewer(fu)
    roles = loop.roles(fu, acting)
    letters = LetterService(db(), actor.institution_id, policy)
    context: dict[str, Any] = {}
    steps = loop.allowed(fu, acting)
    if "accept" in steps or "reroute" in steps:
        year = letters.division.current_year()
        context["leaders"] = letters.leaders_with_areas(year)
        context["areas"] = [(a.code, a.display(str(get_locale()))) for a in policy.contact.work_areas]
        context["suggested_deadline"] = loop.suggested_deadline(fu.kind)
    if {"accept", "instruct", "reroute"} & set(steps):
        # the units a letter or proposal can go to (as on the reception record): departments and colleges,
        # not every teaching office, lab and party branch; the ones it already has stay choosable
        keep = {fu.unit_id, *(h.unit_id for h in fu.helpers)}
        context["units"] = [
            u
            for u in DirectoryService(db(), actor.institution_id).units()
            if u.kind in ROUTABLE_KINDS or u.id in keep
        ]
    if "close" in steps and letter is not None:
        context["earlier"] = [x for x in letters.office_list("all") if x.id != letter.id][:100]
    if acting.office:
        back = (
            url_for("outreach.office_letters")
            if letter is not None
            else url_for("outreach.office_congress_session", congress_id=proposal.session_id)  # type: ignore[union-attr]
        )
    elif "leader" in roles:
        back = url_for("outreach.leader_letters")
    elif roles & {"unit", "helper"}:
        back = url_for("outreach.unit_items")
    else:
        back = url_for("outreach.my_letters")
    return render_template(
        "outreach/item.html",
        fu=fu,
        letter=letter,
        proposal=proposal,
        roles=roles,
        staff=bool(roles - {"originator"}),
        steps=steps,
        office=acting.office,
        writer=LetterService.writer_for(letter, acting.office) if letter is not None else None,
        overdue=loop.is_overdue(fu),
        area=_area_label(policy, fu.area),
        back=back,
        done=request.args.get("done"),
        **context,
    )


@bp.route("/items/<int:follow_up_id>/<step>", methods=["POST"])
def item_step(follow_up_id: int, step: str):
    actor = current_actor()
    policy = _policy(actor)
    loop = FollowUpService(db(), actor.institution_id, policy)
    fu = loop.get(follow_up_id)
    actor, acting, letter, proposal = _viewer(fu)
    form = request.form
    day = parse_day(form.get("deadline", ""), N_("Deadline"), required=False)
    if step == "accept" and letter is not None:
        LetterService(db(), actor.institution_id, policy).route(
            letter,
            acting,
            area=form.get("area", ""),
            leader=form.get("leader", AUTO),
            deadline=form.get("deadline", ""),
            note=form.get("note", ""),
        )
    elif step == "accept" and proposal is not None:
        ProposalService(db(), actor.institution_id, policy).accept(
            proposal,
            acting,
            unit=form.get("unit", ""),
            helpers=form.getlist("helpers"),
            deadline=form.get("deadline", ""),
            note=form.get("note", ""),
        )
    elif step == "close" and letter is not None:
        LetterService(db(), actor.institution_id, policy).screen_out(
            letter, acting, form.get("outcome", ""), form.get("reason", ""), form.get("duplicate_of", "")
        )
    elif step == "close":
        loop.close(fu, acting, form.get("outcome", "declined"), form.get("reason", ""))
    elif step == "reroute":
        leader = form.get("leader", "")
        leader_id = None
        if leader:
            letters = LetterService(db(), actor.institution_id, policy)
            leader_id = letters.division.leader(leader).id
        loop.reroute(
            fu,
            acting,
            leader_id=leader_id,
            unit_id=form.get("unit", ""),
            deadline=day,
            note=form.get("note", ""),
        )
    elif step == "instruct":
        loop.instruct(fu, acting, form.get("instruction", ""), form.get("unit", ""), form.getlist("helpers"))
    elif step == "answer":
        loop.answer(fu, acting, form.get("answer", ""))
    elif step == "return":
        loop.return_to_unit(fu, acting, form.get("note", ""), day)
    elif step == "release":
        loop.release(fu, acting, form.get("answer"))
    elif step == "satisfaction" and proposal is not None:
        ProposalService(db(), actor.institution_id, policy).satisfaction(
            proposal, acting, form.get("satisfaction", ""), form.get("note", "")
        )
    elif step == "withdraw":
        loop.withdraw(fu, acting, form.get("reason", ""))
    else:
        raise NotFound("No such step.")
    return redirect(url_for("outreach.item", follow_up_id=fu.id, done=step), code=303)


# -- home panels ---------------------------------------------------------------------------------------------
@register_panel(OFFICE, 30)
def _office_panel(actor: Actor) -> Panel | None:
    policy = _policy(actor)
    reception = ReceptionService(db(), actor.institution_id, policy)
    semester = reception.semester()
    roster = reception.roster(semester) if semester is not None else []
    proposals = ProposalService(db(), actor.institution_id, policy)
    open_proposals = sum(proposals.tally(proposals.listing(c))["unanswered"] for c in proposals.sessions())
    return Panel(
        "outreach/_panel_office.html",
        {
            "semester": semester,
            "this_week": next((w for w in roster if w.start <= reception.today() <= w.end), None),
            "missing": [w for w in roster if w.state == WeekState.MISSING],
            "unscheduled": sum(1 for w in roster if w.duty is None),
            "letters": LetterService(db(), actor.institution_id, policy).counts(),
            "open_proposals": open_proposals,
        },
    )


@register_panel(LEADER, 27)
def _leader_panel(actor: Actor) -> Panel | None:
    if actor.person_id is None or not _is_leader(actor):
        return None
    policy = _policy(actor)
    reception = ReceptionService(db(), actor.institution_id, policy)
    weeks = reception.my_weeks(actor.person_id, reception.semester())
    letters = LetterService(db(), actor.institution_id, policy)
    mine = letters.for_leader(actor.person_id)
    return Panel(
        "outreach/_panel_leader.html",
        {
            "weeks": weeks,
            "missing": [w for w, s in weeks if s == WeekState.MISSING],
            "current": next((w for w, s in weeks if s == WeekState.CURRENT), None),
            "to_instruct": [x for x in mine if x.follow_up.status == FollowUpStatus.WITH_LEADER],
            "overdue": [x for x in mine if letters.loop.is_overdue(x.follow_up)],
        },
    )


def _unit_panel(actor: Actor) -> Panel | None:
    unit_id = _my_unit(actor)
    if unit_id is None:
        return None
    loop = FollowUpService(db(), actor.institution_id, _policy(actor))
    items = [
        fu for fu in loop.for_unit(unit_id) if fu.status == FollowUpStatus.WITH_UNIT and fu.unit_id == unit_id
    ]
    if not items:
        return None
    return Panel(
        "outreach/_panel_unit.html",
        {"items": items, "overdue": [fu for fu in items if loop.is_overdue(fu)]},
    )


for _persona in ("handler", "observer", "teacher"):
    register_panel(_persona, 26)(_unit_panel)
