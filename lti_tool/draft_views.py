"""The web half of lti_tool/drafts.py: what the record forms' endpoints answer, for both record systems.

The form (templates/_drafts.html, static/observations.js) posts the changed fields as JSON to the
autosave endpoint every few seconds and finally to the submit endpoint; without JavaScript it posts the
whole form. A stale tab's save is refused by ``bump_draft_version`` (409, the error handler answers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, redirect, request
from flask_babel import gettext

from lti_tool.db import utcnow
from lti_tool.drafts import RecordIncomplete, SaveResult
from lti_tool.errors import BadRequest


def json_body() -> dict[str, Any]:
    """The autosave request's JSON object (``fields`` and ``draft_version``), or 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Send the fields as a JSON object.")
    return body


def sent_draft_version() -> Any:
    """The draft version a submit names, from JSON (the script) or the form (no JavaScript)."""
    body = request.get_json(silent=True) if request.is_json else request.form
    return body.get("draft_version") if body is not None and hasattr(body, "get") else None


def translated(fields: dict[str, str]) -> dict[str, str]:
    """Field name → msgid, translated for the person's language."""
    return {k: gettext(v) for k, v in fields.items()}


def local_hhmm(tz: dt.tzinfo, when: dt.datetime | None = None) -> str:
    """The college's clock time of a save (now when ``when`` is None), as the status line shows it."""
    return (when or utcnow()).astimezone(tz).strftime("%H:%M")


def saved_reply(row: Any, result: SaveResult[Any], tz: dt.tzinfo, **extra: Any) -> Response:
    """An autosave's answer: the new version, what was stored, what was refused and when."""
    return jsonify(
        draft_version=row.draft_version,
        saved=result.saved,
        invalid=translated(result.invalid),
        saved_at=local_hhmm(tz, row.updated_at),
        **extra,
    )


def incomplete_reply(exc: RecordIncomplete) -> tuple[Response, int]:
    """422 naming each field the record still needs."""
    return jsonify(
        error=exc.translated(), details=exc.translated_details(), fields=translated(exc.fields)
    ), 422


def submit_reply(
    row: Any, submit: Callable[[], object], render_form: Callable[[dict[str, str]], Any], target: str
) -> Any:
    """Submit a draft (``submit``) and answer: JSON for the script, a redirect to ``target`` for the plain
    form. A record still missing fields answers 422: JSON naming them for the script, the form with them
    marked (``render_form``) without JavaScript."""
    try:
        submit()
    except RecordIncomplete as exc:
        if request.is_json:
            return incomplete_reply(exc)
        return render_form(translated(exc.fields))
    if request.is_json:
        return jsonify(status=row.status, redirect=target)
    return redirect(target, code=303)
