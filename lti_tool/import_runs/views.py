"""An import run's page: how far the worker is (the page polls JSON), then what was stored or why not."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from lti_tool.actor import Actor
from lti_tool.errors import BadRequest, Forbidden, TingkeError, render_detail
from lti_tool.import_runs.models import ImportRun
from lti_tool.import_runs.services import (
    FAILED,
    PREVIEW,
    SUCCEEDED,
    ImportRunService,
    Received,
    read_progress,
    registered,
)
from lti_tool.web import current_actor, db, redis_connection, requires_persona, run_status_label

bp = Blueprint("import_runs", __name__, url_prefix="/imports")


def receive(kind: str, *, options: dict[str, Any] | None = None) -> Received:
    """An import page's upload (form field ``file``), for its view: the bytes to import in the request,
    or the run a job imports (redirect to ``follow``). Raises the limit's 413/422 before anything is kept."""
    actor = current_actor()
    file = request.files.get("file")
    if file is None or not file.filename:
        raise BadRequest("Choose a CSV or XLSX file to upload.")
    return ImportRunService(db(), actor.institution_id).receive(
        kind, file.stream, file.filename, redis_connection, requested_by_id=actor.person_id, options=options
    )


def follow(run: ImportRun) -> Response:
    """The run's page, after its upload (post/redirect/get)."""
    return redirect(url_for("import_runs.view", run_id=run.id), code=303)


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
    return _page(_visible(current_actor(), run_id))


def _page(run: ImportRun, error: TingkeError | None = None) -> str:
    entry = registered(run.kind)
    if run.stage == PREVIEW and run.status == SUCCEEDED and entry.preview_template:
        return render_template(
            entry.preview_template,
            run=run,
            entry=entry,
            preview=run.preview,
            error=error,
            **(entry.preview_context(run.preview) if entry.preview_context else {}),
            confirm_url=url_for("import_runs.confirm", run_id=run.id),
        )
    percent, rows_read = _progress(run)
    message, details = _error(run)
    return render_template(
        "import_runs/run.html",
        run=run,
        entry=entry,
        percent=percent,
        rows_read=rows_read,
        message=message,
        details=details,
        status_label=run_status_label(run.status),
    )


@bp.route("/<int:run_id>/confirm", methods=["POST"])
@requires_persona()
def confirm(run_id: int):
    """Store what the run's preview showed: the run goes on as a job, this page follows it again."""
    actor = current_actor()
    run = _visible(actor, run_id)
    flags = {k: v == "1" for k, v in request.form.items() if k.startswith("confirm_")}
    try:
        ImportRunService(db(), actor.institution_id).confirm(run.id, redis_connection(), flags)
    except TingkeError as exc:
        db().rollback()
        return _page(_visible(actor, run_id), error=exc), exc.status
    return follow(run)


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
