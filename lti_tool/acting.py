"""Who is acting, for the services' log lines (docs/decisions.md O-1).

Services log what they did with the institution and the actor, like indico's
``logger.info('… %s', …, session.user)``: a refused launch, a failed job, a policy upload, an import, a
semester closed or reopened each leave one line. The request plumbing (``web.load_actor``), the CLI and
the worker say who is acting once, here, so a service need not thread a label through every call:

    log.info("people imported for institution %s by %s: …", self.institution_id, acting.who())

The label is a ``ContextVar``: per thread and per request, reset when the request ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import wraps
from typing import Any, TypeVar

from lti_tool.errors import TingkeError

NOBODY = "system"

_who: ContextVar[str] = ContextVar("tingke_acting", default=NOBODY)


def who() -> str:
    """The actor of the current request, command or job (``system`` when nobody said)."""
    return _who.get()


def act_as(label: str) -> Token[str]:
    return _who.set(label)


def reset(token: Token[str]) -> None:
    _who.reset(token)


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    token = act_as(label)
    try:
        yield
    finally:
        reset(token)


F = TypeVar("F", bound=Callable[..., Any])


def logged_import(log: logging.Logger, what: str) -> Callable[[F], F]:
    """Log an import method ``(self, data, filename, …)`` of a service with an ``institution_id``: one
    line when it stored something, one when it was refused (every row error is in the exception)."""

    def decorator(method: F) -> F:
        @wraps(method)
        def wrapper(self: Any, data: bytes, filename: str, *args: Any, **kwargs: Any) -> Any:
            try:
                result = method(self, data, filename, *args, **kwargs)
            except TingkeError as exc:
                log.warning(
                    "%s import of %r for institution %s by %s refused: %s (%d problems)",
                    what, filename, self.institution_id, who(), exc, len(exc.details),
                )  # fmt: skip
                raise
            log.info(
                "%s imported from %r for institution %s by %s: %s",
                what, filename, self.institution_id, who(), result,
            )  # fmt: skip
            return result

        return wrapper  # type: ignore[return-value]

    return decorator
