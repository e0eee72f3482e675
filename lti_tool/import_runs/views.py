"""An import run's page: how far the worker is (the page polls JSON), then what was stored or why not."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, url_for
from flask_babel import gettext

from lti_tool.actor import Actor
from lti_tool.errors import Forbidden, render_detail
from lti_tool.import_runs.models import ImportRun
from lti_tool.import_runs.services import FAILED, SUCCEEDED, ImportRunService, read_progress, registered
from lti_tool.web import current_actor, db, redis_connection, requires_persona, run_status_label

bp = Blueprint("import_runs", __name__, url_prefix="/imports")


def _visible(actor: Actor, run_id: int) -> ImportRun:
    run = ImportRunService(db(), actor.institution_id).get(run_id)
    if actor.persona not in registered(run.kind).personas:
        raise Forbidden("This import is not yours to see.")
    return run


def _progress(run: ImportRun) -> tuple[int, int]:
    try:
        connection = redis_connection()
    except Exception:  # noqa: BLE001 - no queue configured: the row's own progress
        connection = None
    return read_progress(connection, run)


def _error(run: ImportRun) -> tuple[str, list[str]]:
    if run.status != FAILED or not run.error:
        return "", []
    params = {k: gettext(v) if isinstance(v, str) else v for k, v in (run.error_params or {}).items()}
    details = [render_detail(tuple(d) if isinstance(d, list) else d, gettext) for d in run.details or []]
    return gettext(run.error, **params), details


@bp.route("/<int:run_id>")
@requires_persona()
def view(run_id: int):
    run = _visible(current_actor(), run_id)
    percent, rows_read = _progress(run)
    message, details = _error(run)
    return render_template(
        "import_runs/run.html",
        run=run,
        entry=registered(run.kind),
        percent=percent,
        rows_read=rows_read,
        message=message,
        details=details,
        status_label=run_status_label(run.status),
    )


@bp.route("/<int:run_id>/status")
@requires_persona()
def status(run_id: int):
    run = _visible(current_actor(), run_id)
    percent, rows_read = _progress(run)
    return jsonify(
        status=run.status,
        status_label=run_status_label(run.status),
        progress=100 if run.status == SUCCEEDED else percent,
        rows_read=rows_read,
        done=run.status in (SUCCEEDED, FAILED),
        page=url_for("import_runs.view", run_id=run.id),
    )
