"""Worker tests: the job functions are pointed at the test database once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from worker import jobs


@pytest.fixture(scope="session")
def worker_db(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """``run_report`` opens its own sessions (as in the worker): give it one engine for the whole run and
    dispose of it at the end (an engine per test would leave pooled connections to the garbage collector)."""
    jobs.configure(settings)
    yield
    factory = jobs._FACTORY
    if factory is not None:
        factory.kw["bind"].dispose()
