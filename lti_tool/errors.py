"""Domain errors and their one mapping to HTTP.

Services raise these with a message a person understands (a Babel ``lazy_gettext`` string or plain
text); ``register_error_handlers`` turns them into a status code and a page (or JSON for fetch calls).
Nothing else in the code decides error statuses.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class TingkeError(Exception):
    """Base of every error a user may see. ``status`` is the HTTP status the web layer answers with."""

    status = 400

    def __init__(self, message: str, *, details: list[str] | None = None, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.details = details or []

    def translated(self) -> str:
        """The message in the user's language: ``message`` is a catalog msgid with %(name)s params."""
        from flask_babel import gettext

        return gettext(self.message, **self.params)


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


class ValidationFailed(TingkeError):
    """Input that cannot be stored; ``details`` lists each problem (row and column for imports)."""

    status = 422


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(TingkeError)
    def _tingke_error(err: TingkeError):  # type: ignore[no-untyped-def]
        message = err.translated()
        if _wants_json():
            return jsonify(error=message, details=[str(d) for d in err.details]), err.status
        return (
            render_template("error.html", status=err.status, message=message, details=err.details),
            err.status,
        )

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):  # type: ignore[no-untyped-def]
        status = err.code or 500
        if _wants_json():
            return jsonify(error=err.description), status
        return render_template("error.html", status=status, message=err.description, details=[]), status
