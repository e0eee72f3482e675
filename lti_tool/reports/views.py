"""Report runs: start one, watch its progress (the page polls JSON), download the result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    render_template_string,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext

from lti_tool.actor import Actor
from lti_tool.db import get_scoped
from lti_tool.directory.models import Person
from lti_tool.errors import BadRequest, Forbidden
from lti_tool.i18n import N_
from lti_tool.inputs import id_field
from lti_tool.nav import register_nav
from lti_tool.panels import Panel, register_panel
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.views import STATUS_LABELS as PROBLEM_STATUS_LABELS
from lti_tool.reports.bulletin import ISSUERS, BulletinService, number_label
from lti_tool.reports.cadre_file import CadreFileService, parse_period, period_label
from lti_tool.reports.models import ReportRun
from lti_tool.reports.services import ReportKind, ReportRunService
from lti_tool.reports.statistics import SemesterStatistics, StatisticsService
from lti_tool.timetable.models import Semester
from lti_tool.web import current_actor, db, redis_connection, requires_persona, serves_download

bp = Blueprint("reports", __name__, url_prefix="/reports")

register_nav("quality_center", 40, "reports.index", N_("Statistics and reports"), active_prefix="reports.")
register_nav("organization", 20, "reports.index", N_("Reports and the cadre file"), active_prefix="reports.")


KIND_LABELS = {
    ReportKind.STATISTICS: lazy_gettext("Semester statistics"),
    ReportKind.EXECUTION_REPORT: lazy_gettext("Execution report (PDF)"),
    ReportKind.PERSONAL_ARCHIVE: lazy_gettext("Personal observation archive (PDF)"),
    ReportKind.CADRE_FILE: lazy_gettext("Annual cadre file (Excel)"),
    ReportKind.CADRE_SUMMARY: lazy_gettext("Annual cadre file, summary (PDF)"),
    ReportKind.BULLETIN: lazy_gettext("Bulletin on the leaders' duties (PDF)"),
    ReportKind.CONTACT_REPORT: lazy_gettext("Grassroots-contact execution report (PDF)"),
    ReportKind.CONTACT_ARCHIVE: lazy_gettext("Contact archive of the academic year (PDF)"),
}
CADRE_KINDS = (ReportKind.CADRE_FILE, ReportKind.CADRE_SUMMARY)
"""The annual cadre file (三个纳入): for a year the office chooses, not for a semester (its own form)."""
# Who may start which kind; the personal archive is always the actor's own.
STARTABLE = {
    "quality_center": {
        ReportKind.STATISTICS,
        ReportKind.EXECUTION_REPORT,
        ReportKind.BULLETIN,
        *CADRE_KINDS,
    },
    "organization": {ReportKind.CONTACT_REPORT, *CADRE_KINDS},
    "observer": {ReportKind.PERSONAL_ARCHIVE, ReportKind.CONTACT_ARCHIVE},
    "school_office": {ReportKind.CONTACT_REPORT, ReportKind.BULLETIN, *CADRE_KINDS},
}
# The bulletin of both systems (C-7c) is issued by the offices of ``ISSUERS`` (docs/decisions.md P-18) with
# its own form: a semester and a checkpoint.
# A leader's contact archive is started from their page in compliance by the offices that keep and read the
# archives (七.1: the school office files them; the organization department reads them for cadre work).
FOR_A_PERSON = {
    "school_office": {ReportKind.CONTACT_ARCHIVE},
    "organization": {ReportKind.CONTACT_ARCHIVE},
}
OWN_KINDS = (ReportKind.PERSONAL_ARCHIVE, ReportKind.CONTACT_ARCHIVE)
STAFF = ("quality_center", "organization", "school_office")
PERSONAS = ("quality_center", "organization", "observer", "school_office")


def _service(actor: Actor) -> ReportRunService:
    return ReportRunService(db(), actor.institution_id)


@dataclass(frozen=True)
class Output:
    """What a finished run made, as its download link says it: what, which semester, when, how big."""

    label: str
    semester: str
    made: dt.datetime | None
    size: str
    url: str
    is_page: bool
    """The statistics: a page to read, not a file."""


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def run_output(run: ReportRun, size: int | None = None) -> Output | None:
    """The labelled output of a succeeded run (``None`` while there is none)."""
    if run.status != "succeeded":
        return None
    semester = db().get(Semester, run.semester_id) if run.semester_id else None
    label = str(KIND_LABELS.get(ReportKind(run.kind), run.kind)) if run.kind in set(ReportKind) else run.kind
    if run.kind == ReportKind.BULLETIN and run.number:
        label = f"{label} {number_label(run.number_year, run.number)}"
    when = semester.code if semester else period_label(run.period, gettext)
    if run.kind == ReportKind.STATISTICS:
        url = url_for("reports.show", run_id=run.id)
        return Output(label, when, run.finished_at, "", url, True)
    if size is None:
        size = _service_for(run).output_sizes([run.id]).get(run.id)
    if size is None:
        return None
    url = url_for("reports.download", run_id=run.id)
    return Output(label, when, run.finished_at, human_size(size), url, False)


def _service_for(run: ReportRun) -> ReportRunService:
    return ReportRunService(db(), run.institution_id)


@bp.app_context_processor
def _output_helpers() -> dict[str, Any]:
    return {"run_output": run_output}


# Other people's observation archives (个人听课档案) are theirs and the quality center's. The school office
# keeps the contact archives (C-7a), not the observation ones; the organization department's job needs
# compliance, the reports and the cadre file — other people's archives only when the policy grants it
# (``organization_reads_personal_files``, issue 13 §7).
NOT_FOR = {"school_office": {ReportKind.PERSONAL_ARCHIVE}}


def _hidden_kinds(actor: Actor) -> set[ReportKind]:
    """The kinds of other people's runs this actor may neither open nor see listed."""
    hidden = set(NOT_FOR.get(actor.persona, set()))
    if not PolicyStore(db(), actor.institution_id).current().reads_personal_files(actor.persona):
        hidden |= set(OWN_KINDS)
    return hidden


def _visible(actor: Actor, run: ReportRun) -> ReportRun:
    if run.kind in _hidden_kinds(actor) and run.person_id != actor.person_id:
        raise Forbidden("This report is not yours.")
    if actor.persona in STAFF:
        return run
    if run.kind in OWN_KINDS and run.person_id == actor.person_id:
        return run
    raise Forbidden("This report is not yours.")


def _listed(actor: Actor, runs: list[ReportRun]) -> list[ReportRun]:
    """The runs a staff persona's lists show: those ``_visible`` lets it open."""
    hidden = _hidden_kinds(actor)
    return [r for r in runs if not (r.kind in hidden and r.person_id != actor.person_id)]


def _semesters(actor: Actor) -> list[Semester]:
    return list(
        db()
        .query(Semester)
        .filter(Semester.institution_id == actor.institution_id)
        .order_by(Semester.week1_monday.desc())
    )


@bp.route("/")
@requires_persona(*PERSONAS)
def index():
    actor = current_actor()
    service = _service(actor)
    runs = (
        _listed(actor, service.runs())
        if actor.persona in STAFF
        else [r for r in service.runs(person_id=actor.person_id) if r.kind in OWN_KINDS]
    )
    startable = STARTABLE.get(actor.persona, set())
    return render_template(
        "reports/index.html",
        runs=runs,
        semesters=_semesters(actor),
        labels=KIND_LABELS,
        startable=sorted(startable - {ReportKind.BULLETIN} - set(CADRE_KINDS)),
        issues_bulletins=ReportKind.BULLETIN in startable and actor.persona in ISSUERS,
        today=BulletinService(db(), actor.institution_id).today(),
        cadre_years=_cadre_years(actor),
    )


def _cadre_years(actor: Actor) -> dict[str, list[str]] | None:
    """The years the cadre-file form offers, for those who may make it (``None`` for others)."""
    if not set(CADRE_KINDS) & STARTABLE.get(actor.persona, set()):
        return None
    return CadreFileService(db(), actor.institution_id).choices()


@bp.route("/start", methods=["POST"])
@requires_persona(*PERSONAS)
def start():
    actor = current_actor()
    kind = request.form.get("kind", "")
    for_person = kind in FOR_A_PERSON.get(actor.persona, set()) and kind not in _hidden_kinds(actor)
    if kind not in STARTABLE.get(actor.persona, set()) and not for_person:
        raise Forbidden("You cannot start this report.")
    if kind in CADRE_KINDS:
        year = parse_period(request.form.get("period"))
        run, _created = _service(actor).start(
            kind,
            redis_connection(),
            semester_id=None,
            period=year.code,
            language=actor.locale,
            requested_by_id=actor.person_id,
        )
        return redirect(url_for("reports.show", run_id=run.id), code=303)
    semester_id = id_field(request.form, "semester_id")
    if kind == ReportKind.BULLETIN:
        run = BulletinService(db(), actor.institution_id).issue(
            actor.persona,
            semester_id,
            _day(request.form.get("as_of", "")),
            actor.person_id,
            redis_connection(),
        )
        return redirect(url_for("reports.show", run_id=run.id), code=303)
    if for_person:
        person_id = id_field(request.form, "person_id")
        if person_id is None or get_scoped(db(), Person, person_id, actor.institution_id) is None:
            raise BadRequest("Choose whose archive to build.")
    else:
        person_id = actor.require_person() if kind in OWN_KINDS else None
    run, _created = _service(actor).start(
        kind,
        redis_connection(),
        semester_id=semester_id,
        person_id=person_id,
        requested_by_id=actor.person_id,
    )
    return redirect(url_for("reports.show", run_id=run.id), code=303)


def _day(text: str) -> dt.date | None:
    """A date field (``YYYY-MM-DD``; empty: none given)."""
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest("“%(value)s” is not a date (YYYY-MM-DD).", value=text[:40]) from None


@bp.route("/runs/<int:run_id>")
@requires_persona(*PERSONAS)
def show(run_id: int):
    actor = current_actor()
    run = _visible(actor, _service(actor).get(run_id))
    stats = _statistics_of(run) if run.kind == ReportKind.STATISTICS and run.status == "succeeded" else None
    return render_template(
        "reports/run.html",
        run=run,
        labels=KIND_LABELS,
        stats=stats,
        problem_status_labels=PROBLEM_STATUS_LABELS,
    )


def _statistics_of(run: ReportRun) -> SemesterStatistics | None:
    """The numbers a statistics run stored: its semester's snapshot of the same kind (frozen for a run of
    the archive's version, else the latest, which a later run replaces)."""
    if run.semester_id is None:
        return None
    return StatisticsService(db(), run.institution_id).stored(run.semester_id, frozen=run.frozen)


@bp.route("/runs/<int:run_id>/status")
@requires_persona(*PERSONAS)
def status(run_id: int):
    actor = current_actor()
    service = _service(actor)
    run = _visible(actor, service.get(run_id))
    from lti_tool.web import run_status_label

    return jsonify(
        id=run.id,
        status=run.status,
        status_label=run_status_label(run.status),
        progress=run.progress,
        message=run.message,
        error=run.error.splitlines()[0] if run.error else "",
        stalled=service.is_stalled(run),
        download=url_for("reports.download", run_id=run.id) if run.status == "succeeded" else None,
        # the labelled download the run page shows once done (the statistics are a page: reloaded)
        output_html=render_template_string(OUTPUT_LINK, run=run) if run.status == "succeeded" else "",
        output_is_page=run.kind == ReportKind.STATISTICS,
    )


OUTPUT_LINK = '{% from "reports/_output.html" import output_link with context %}{{ output_link(run, True) }}'


@bp.route("/runs/<int:run_id>/download")
@serves_download
@requires_persona(*PERSONAS)
def download(run_id: int):
    actor = current_actor()
    run = _visible(actor, _service(actor).download(run_id))
    mimetype = (
        "application/pdf"
        if run.filename.endswith(".pdf")
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if run.filename.endswith(".xlsx")
        else "application/octet-stream"
    )
    return Response(
        run.content,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(run.filename)}"},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@register_panel("organization", 5)
def _cadre_panel(actor: Actor) -> Panel:
    """The organization department's two tasks on its home page: compliance per cadre, the annual file."""
    return Panel("reports/_panel_organization.html", {"cadre_years": _cadre_years(actor)})


@register_panel("school_office", 45)
def _office_cadre_panel(actor: Actor) -> Panel:
    """The school office makes the annual cadre file too (七.1: it shares the responsibility)."""
    return Panel("reports/_panel_cadre_file.html", {"cadre_years": _cadre_years(actor)})


@register_panel("observer", 15)
def _bulletins_panel(actor: Actor) -> Panel | None:
    """The bulletins that name this leader (C-7c), with their own lines only (never anybody else's)."""
    if actor.person_id is None:
        return None
    issued = BulletinService(db(), actor.institution_id).naming(actor.person_id)
    if not issued:
        return None
    return Panel("reports/_bulletins_mine.html", {"issued": issued, "issuers": ISSUERS})


@register_panel("quality_center", 50)
@register_panel("organization", 50)
@register_panel("school_office", 50)
def _reports_panel(actor: Actor) -> Panel:
    runs = _listed(actor, _service(actor).runs(limit=10))[:5]
    return Panel("reports/_panel.html", {"runs": runs, "labels": KIND_LABELS})
