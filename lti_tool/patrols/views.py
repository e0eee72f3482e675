"""The phone-friendly patrol page: months done or missing, a quick form, recent patrols (O-9)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from lti_tool.actor import Actor
from lti_tool.directory.models import Person
from lti_tool.directory.services import parse_date
from lti_tool.errors import Forbidden, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.inputs import id_field
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.patrols.services import PatrolService
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.photos import uploads
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("patrols", __name__, url_prefix="/patrols")
PROBLEM_ROWS = 3


def _service(actor: Actor) -> PatrolService:
    return PatrolService(db(), actor.institution_id, PolicyStore(db(), actor.institution_id).current())


def _problems_from_form() -> list[NewProblem]:
    items = []
    for i in range(PROBLEM_ROWS):
        description = request.form.get(f"problem_description_{i}", "").strip()
        category = request.form.get(f"problem_category_{i}", "")
        if not description:
            continue
        unit = id_field(request.form, f"problem_unit_{i}")
        photos = uploads(request.files.getlist(f"problem_photos_{i}"))
        items.append(
            NewProblem(category, unit, request.form.get(f"problem_room_{i}", ""), description, photos)
        )
    return items


@bp.route("/", methods=["GET", "POST"])
@requires_persona("observer")
def index():
    actor = current_actor()
    person = db().get(Person, actor.require_person())
    if person is None:  # the roster entry was removed after the launch
        raise Forbidden("Your LMS account is not linked to the roster yet.")
    service = _service(actor)
    if request.method == "POST":
        try:
            date = parse_date(request.form.get("date", ""))
        except ValueError:
            raise ValidationFailed(
                "The patrol cannot be saved.", details=[N_("Date: not a date (YYYY-MM-DD).")]
            ) from None
        service.record(
            person,
            date=date,
            rooms=request.form.get("rooms", ""),
            checked=request.form.getlist("checked"),
            notes=request.form.get("notes", ""),
            problems=_problems_from_form(),
        )
        return redirect(url_for("patrols.index", saved=1), code=303)
    today = service.today()
    semester = service.current_semester(today)
    problem_service = ProblemService(db(), actor.institution_id, service.policy)
    return render_template(
        "patrols/index.html",
        months=service.months(person.id, semester) if semester else [],
        semester=semester,
        recent=service.recent(person.id),
        today=today,
        has_duty=service.has_duty(person.id, today),
        policy=service.policy,
        units=problem_service.route_units(),
        rows=range(PROBLEM_ROWS),
        saved=request.args.get("saved") == "1",
    )


def _has_patrol_duty(actor: Actor) -> bool:
    return actor.person_id is not None and bool(_service(actor).duty_tenures(actor.person_id))


register_nav("observer", 40, "patrols.index", N_("Patrols"), when=_has_patrol_duty)


@register_panel("observer", 20)
def _panel(actor: Actor) -> Panel | None:
    if actor.person_id is None:
        return None
    service = _service(actor)
    today = service.today()
    if not service.duty_tenures(actor.person_id):
        return None
    semester = service.current_semester(today)
    months = service.months(actor.person_id, semester) if semester else []
    return Panel("patrols/_panel.html", {"months": months, "today": today})
