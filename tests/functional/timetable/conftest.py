"""The timetable tests' fixtures: the roster a timetable names, and ``tingke`` against the test database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.test_timetable_import import make_roster
from tests.support.cli import Run, cli_runner


@pytest.fixture
def roster(session_factory, institution_id) -> int:  # type: ignore[no-untyped-def]
    make_roster(session_factory, institution_id)
    return institution_id


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Run:
    return cli_runner(monkeypatch, database_url, tmp_path / "instance")
