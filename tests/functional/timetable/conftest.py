"""The timetable tests' fixtures: the roster a timetable names, and ``tingke`` against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from lti_tool.cli import cli
from lti_tool.cli_support import CliContext
from tests.functional.timetable.test_import import make_roster


@pytest.fixture
def roster(session_factory, institution_id) -> int:  # type: ignore[no-untyped-def]
    make_roster(session_factory, institution_id)
    return institution_id


@pytest.fixture
def run_cli(session_factory) -> Iterator:  # type: ignore[no-untyped-def]
    """Runs ``tingke …`` in-process against the test database (one transaction per command)."""
    ctx = CliContext()
    ctx._factory = session_factory  # type: ignore[assignment]
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), obj=ctx, catch_exceptions=False)

    yield run
