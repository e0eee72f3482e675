"""``tingke …`` run as the console script runs it, against the test database (click's CliRunner)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lti_tool.cli import cli
from lti_tool.cli_support import CliContext

Run = Callable[..., Result]


def cli_runner(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    instance_path: Path,
    secret_key: str = "",
    base_url: str = "",
) -> Run:
    """A ``run("import", "people", …)`` callable. The settings travel as environment variables, as for a
    real console script; CliContext reads them. Its engine is disposed after each command (the console
    script leaves that to the process exit), so no pooled connection outlives the test."""
    monkeypatch.setenv("TINGKE_DATABASE_URL", database_url)
    monkeypatch.setenv("TINGKE_INSTANCE_PATH", str(instance_path))
    if secret_key:
        monkeypatch.setenv("TINGKE_SECRET_KEY", secret_key)
    if base_url:
        monkeypatch.setenv("TINGKE_BASE_URL", base_url)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        ctx = CliContext()
        try:
            return runner.invoke(cli, list(args), obj=ctx, catch_exceptions=False)
        finally:
            if ctx._factory is not None:  # noqa: SLF001 - CliContext keeps its factory private
                ctx._factory.kw["bind"].dispose()  # noqa: SLF001

    return invoke
