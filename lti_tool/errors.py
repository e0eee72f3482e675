"""Domain errors and their one mapping to HTTP.

Services raise these with a message a person understands (a Babel ``lazy_gettext`` string or plain
text); ``register_error_handlers`` turns them into a status code and a page (or JSON for fetch calls).
Nothing else in the code decides error statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from lti_tool.i18n import N_

log = logging.getLogger(__name__)

Detail = str | tuple[str, dict[str, Any]]
"""One item of an error's details: a msgid (or plain text), or a msgid with its %(name)s parameters."""


def render_detail(detail: Detail, translate: Any) -> str:
    if isinstance(detail, tuple):
        msgid, params = detail
        return str(
            translate(msgid, **{k: translate(v) if isinstance(v, str) else v for k, v in params.items()})
        )
    return str(translate(detail))


class TingkeError(Exception):
    """Base of every error a user may see. ``status`` is the HTTP status the web layer answers with."""

    status = 400

    def __init__(self, message: str, *, details: Sequence[Detail] | None = None, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.details: list[Detail] = list(details or [])

    def translated(self) -> str:
        """The message in the user's language: ``message`` is a catalog msgid with %(name)s params."""
        from flask_babel import gettext

        return gettext(self.message, **self.params)

    def translated_details(self) -> list[str]:
        """The details in the user's language (msgids are translated; plain text passes through)."""
        from flask_babel import gettext

        return [render_detail(d, gettext) for d in self.details]

    def plain_details(self) -> list[str]:
        """The details as English text (CLI output, logs)."""
        return [render_detail(d, lambda m, **p: m % p if p else m) for d in self.details]


class BadRequest(TingkeError):
    status = 400


class LaunchRefused(TingkeError):
    """An LTI login or launch that fails a security or protocol check."""

    status = 400


class NotAuthenticated(TingkeError):
    status = 401


class Forbidden(TingkeError):
    status = 403


class NotFound(TingkeError):
    status = 404


class Conflict(TingkeError):
    status = 409


class ServiceUnavailable(TingkeError):
    """A service Tingke needs (the database, the job queue) cannot be reached: 503, saying which."""

    status = 503


class ValidationFailed(TingkeError):
    """Input that cannot be stored; ``details`` lists each problem (row and column for imports)."""

    status = 422


class TooLarge(ValidationFailed):
    """An upload beyond one of the import limits (bytes, unpacked size, compression ratio, rows): 413, with
    a message naming the limit (``lti_tool/tabular.py``)."""

    status = 413


DATABASE_DOWN = N_(
    "Tingke's database cannot be reached right now, so nothing was saved. Please try again in a few "
    "minutes; if it lasts, tell the college's IT center."
)
QUEUE_DOWN = N_(
    "Tingke's job queue cannot be reached right now, so reports and reminders cannot be started. "
    "Records and contact entries can still be saved. Please try again in a few minutes."
)


# Werkzeug's own texts are English; these are the ones a user meets, as catalog msgids.
HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    404: N_("This page does not exist."),
    405: N_("This action is not possible on this page."),
    413: N_("The file is too large (at most 16 MB)."),
    500: N_("Something went wrong on our side; please try again."),
}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(TingkeError)
    def _tingke_error(err: TingkeError):
        g.error_reason = err.message  # the msgid, untranslated: a bounded label for metrics and logs
        message = err.translated()
        details = err.translated_details()
        if _wants_json():
            return jsonify(error=message, details=details), err.status
        return (
            render_template("error.html", status=err.status, message=message, details=details),
            err.status,
        )

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.InterfaceError)
    def _database_unreachable(err: Exception):
        # OperationalError is the DBAPI's class for a database that cannot be reached or went away
        # (PEP 249); the request's transaction is rolled back by the teardown, so nothing half-saved.
        log.error("database unavailable: %s", err.__class__.__name__, exc_info=err)
        return _tingke_error(ServiceUnavailable(DATABASE_DOWN))

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def _queue_unreachable(err: Exception):
        log.error("job queue (Redis) unavailable: %s", err.__class__.__name__)
        return _tingke_error(ServiceUnavailable(QUEUE_DOWN))

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        from flask_babel import gettext

        status = err.code or 500
        message = gettext(HTTP_MESSAGES[status]) if status in HTTP_MESSAGES else err.description
        if _wants_json():
            return jsonify(error=message), status
        return render_template("error.html", status=status, message=message, details=[]), status
