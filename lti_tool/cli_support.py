"""What every ``tingke`` command shares: the context (settings, one transaction per command), the
person-readable failure, ``--institution``. Part of the shell; the ``tingke`` group itself and the
commands are lti_tool/cli.py and each domain's ``cli.py``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lti_tool import clock, tabular
from lti_tool.config import Settings
from lti_tool.db import make_engine, make_session_factory, session_scope
from lti_tool.errors import TingkeError
from lti_tool.tenancy import Institution


class CliContext:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        clock.set_default_zone(self.settings.timezone)
        tabular.configure(tabular.Limits.from_settings(self.settings))
        self._factory = None
        self.secret_lookup: Callable[[Settings, Any], str] | None = None
        """The instance secret's lookup (lti/secret.py), handed in by the ``tingke`` group (cli.py)."""

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self._factory is None:
            engine = make_engine(self.settings.database_url)
            self._factory = make_session_factory(engine)  # type: ignore[assignment]
            ctx = click.get_current_context(silent=True)
            if ctx is not None:  # close the connections when the command ends (tests run many commands)
                ctx.find_root().call_on_close(engine.dispose)
            if not self.settings.secret_key and self.secret_lookup is not None:
                # the instance secret every host shares (lti/secret.py)
                with contextlib.suppress(SQLAlchemyError):  # a schema not created yet: the file fallback
                    secret = self.secret_lookup(self.settings, self._factory)
                    self.settings = replace(self.settings, secret_key=secret)
        with session_scope(self._factory) as s:  # type: ignore[arg-type]
            yield s

    def session_factory(self) -> Any:
        """The factory ``session`` uses, for long-running commands that open sessions of their own."""
        with self.session():
            pass
        return self._factory


pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


def fail(message: str, details: list[str] | None = None) -> None:
    click.echo(click.style(f"错误 Error: {message}", fg="red"), err=True)
    for d in details or []:
        click.echo(f"  - {d}", err=True)
    sys.exit(2)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain errors into a clear message and exit status 2 (never a traceback)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TingkeError as exc:
            fail(str(exc), exc.plain_details())
        except ValueError as exc:  # PolicyError and friends
            details = getattr(exc, "problems", None)
            fail(str(exc) if not details else "invalid input", details)

    return wrapper


def resolve_institution(session: Session, code: str | None) -> Institution:
    """``--institution CODE``, optional when exactly one institution exists."""
    if code:
        inst = session.scalars(select(Institution).where(Institution.code == code)).first()
        if inst is None:
            fail(f"no institution with code {code!r}; see `tingke institution list`")
        return inst  # type: ignore[return-value]
    insts = list(session.scalars(select(Institution).limit(2)))
    if not insts:
        fail("no institution yet: run `tingke institution add CODE --name NAME`")
    if len(insts) > 1:
        fail("several institutions exist: pass --institution CODE")
    return insts[0]


institution_option = click.option(
    "--institution",
    "institution_code",
    default=None,
    help="Institution code (optional when only one exists).",
)
