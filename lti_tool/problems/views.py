"""Problem inbox (unit handlers), the problems I raised, the quality center's overview, one problem's page."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from lti_tool.actor import Actor
from lti_tool.directory.models import Person
from lti_tool.i18n import N_
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.photos import PhotoService, limits, uploads
from lti_tool.problems.services import PHOTO_READERS, ProblemService
from lti_tool.web import current_actor, db, requires_persona

bp = Blueprint("problems", __name__, url_prefix="/problems")

register_nav("handler", 10, "problems.index", N_("Problems to handle"), active_prefix="problems.")
register_nav("quality_center", 30, "problems.index", N_("Problems"), active_prefix="problems.")


STATUS_LABELS = {
    "new": lazy_gettext("New"),
    "accepted": lazy_gettext("Accepted"),
    "resolved": lazy_gettext("Resolved"),
    "confirmed": lazy_gettext("Confirmed"),
    "rejected": lazy_gettext("Rejected"),
}
STEP_LABELS = {
    "accepted": lazy_gettext("Accept"),
    "resolved": lazy_gettext("Mark resolved"),
    "confirmed": lazy_gettext("Confirm it is solved"),
    "rejected": lazy_gettext("Reject"),
}


@bp.app_context_processor
def _photo_limits() -> dict[str, object]:
    """The photo limits for every form with a camera input (records, patrols, contacts, this blueprint)."""
    return {"photo_limits": limits()}


def _service(actor: Actor) -> ProblemService:
    return ProblemService(db(), actor.institution_id, PolicyStore(db(), actor.institution_id).current())


def _person(actor: Actor) -> Person | None:
    return db().get(Person, actor.person_id) if actor.person_id else None


def _may_read_handling(actor: Actor, service: ProblemService) -> None:
    service.require_readable(actor.persona)


def _category_labels(service: ProblemService, locale: str) -> dict[str, str]:
    return {c.code: c.display(locale) for c in service.policy.problem_categories}


@bp.route("/")
@requires_persona("handler", "quality_center", "observer", "organization")
def index():
    actor = current_actor()
    service = _service(actor)
    _may_read_handling(actor, service)
    person = _person(actor)
    status = request.args.get("status") or None
    overdue = request.args.get("overdue") == "1"
    if actor.persona == "handler":
        scope = "unit"
        items = service.listing(unit_id=person.unit_id if person else -1, status=status, overdue_only=overdue)
    elif actor.persona == "observer":
        scope = "mine"
        items = service.listing(raised_by_id=actor.person_id or -1, status=status, overdue_only=overdue)
    else:
        scope = "all"
        items = service.listing(status=status, overdue_only=overdue)
    return render_template(
        "problems/index.html",
        items=items,
        scope=scope,
        status=status,
        overdue=overdue,
        labels=STATUS_LABELS,
        categories=_category_labels(service, actor.locale),
        counts=service.counts_by_status(),
    )


@bp.route("/<int:problem_id>")
@requires_persona("handler", "quality_center", "observer", "organization")
def show(problem_id: int):
    actor = current_actor()
    service = _service(actor)
    _may_read_handling(actor, service)
    problem = service.get(problem_id)
    person = _person(actor)
    service.require_visible(problem, actor.persona, person)
    return render_template(
        "problems/show.html",
        item=service.view(problem),
        labels=STATUS_LABELS,
        steps=service.allowed_steps(problem, person),
        step_labels=STEP_LABELS,
        categories=_category_labels(service, actor.locale),
        photos=service.photos(problem),
        photo_stage=service.photo_stage(problem, person, actor.persona),
        photo_limits=limits(),
    )


@bp.route("/<int:problem_id>/step", methods=["POST"])
@requires_persona("handler", "observer")
def step(problem_id: int):
    actor = current_actor()
    person = _person(actor)
    if person is None:
        actor.require_person()
    problem = _service(actor).step(
        problem_id,
        request.form.get("status", ""),
        person,  # type: ignore[arg-type]
        request.form.get("note", ""),
        uploads(request.files.getlist("photos")),
    )
    if request.form.get("return_to") == "record" and problem.observation_id and actor.persona == "observer":
        # confirmed from the observer's own record page: back there (issue 11 §4)
        return redirect(
            url_for("observations.view", obs_id=problem.observation_id, _anchor="problems"), code=303
        )
    return redirect(url_for("problems.show", problem_id=problem_id), code=303)


@bp.route("/<int:problem_id>/photos", methods=["POST"])
@requires_persona("handler", "observer")
def add_photos(problem_id: int):
    actor = current_actor()
    person = _person(actor)
    if person is None:
        actor.require_person()
    _service(actor).add_photos(
        problem_id,
        person,  # type: ignore[arg-type]
        actor.persona,
        uploads(request.files.getlist("photos")),
    )
    return redirect(url_for("problems.show", problem_id=problem_id, _anchor="photos"), code=303)


def _photo_response(photo_id: int, *, thumbnail: bool) -> Response:
    """A photo for whoever may see its problem (the problem page's own rule), inline, never sniffed and,
    like every answer to a launched person, never stored by any cache (web.py: ``no-store``); another
    institution's photo is one that does not exist (404)."""
    actor = current_actor()
    service = _service(actor)
    service.require_readable(actor.persona)
    photos = PhotoService(db(), actor.institution_id)
    photo = photos.get(photo_id)
    service.require_visible(service.get(photo.problem_id), actor.persona, _person(actor))
    body = photos.thumbnail(photo) if thumbnail else photos.image(photo)
    mimetype = "image/jpeg" if thumbnail else photo.content_type
    response = Response(body, mimetype=mimetype)
    extension = "png" if mimetype == "image/png" else "jpg"
    response.headers["Content-Disposition"] = (
        f'inline; filename="problem-{photo.problem_id}-photo-{photo.id}.{extension}"'
    )
    return response


@bp.route("/photos/<int:photo_id>")
@requires_persona(*PHOTO_READERS)
def photo(photo_id: int):
    return _photo_response(photo_id, thumbnail=False)


@bp.route("/photos/<int:photo_id>/thumbnail")
@requires_persona(*PHOTO_READERS)
def photo_thumbnail(photo_id: int):
    return _photo_response(photo_id, thumbnail=True)


@bp.route("/photos/<int:photo_id>/remove", methods=["POST"])
@requires_persona("handler", "observer")
def remove_photo(photo_id: int):
    actor = current_actor()
    photo = PhotoService(db(), actor.institution_id).remove(photo_id, actor.require_person())
    return redirect(url_for("problems.show", problem_id=photo.problem_id, _anchor="photos"), code=303)


@register_panel("handler", 10)
def _handler_panel(actor: Actor) -> Panel | None:
    person = _person(actor)
    if person is None or person.unit_id is None:
        return None
    service = _service(actor)
    items = service.listing(unit_id=person.unit_id, limit=50)
    open_items = [v for v in items if v.problem.status in ("new", "accepted")]
    return Panel(
        "problems/_panel.html",
        {
            "items": open_items[:10],
            "open": len(open_items),
            "overdue": sum(v.overdue for v in open_items),
            "labels": STATUS_LABELS,
            "categories": _category_labels(service, actor.locale),
        },
    )


@register_panel("quality_center", 40)
def _qc_panel(actor: Actor) -> Panel:
    service = _service(actor)
    overdue = service.listing(overdue_only=True, limit=10)
    return Panel(
        "problems/_qc_panel.html",
        {
            "counts": service.counts_by_status(),
            "overdue": overdue,
            "labels": STATUS_LABELS,
            "categories": _category_labels(service, actor.locale),
        },
    )
