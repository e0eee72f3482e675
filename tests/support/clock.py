"""The test suite's clock: pinned at an awkward hour, and carried into the worker processes tests start.

Every test runs with the clock moved to 17:00 UTC — 01:00 the next day in Beijing — so a test passes
only if the code uses the college's date (docs/decisions.md T-1); on a UTC server the two dates differ
there. The instant is the latest 17:00 UTC not after the real time, so the college's "today" stays
within a day of the real one and a worker started without the pin would still be later, never earlier.

Why time-machine (PyPI ``time-machine``) rather than patching our clock module: it moves every reader of
the system clock at once, in C — ``datetime.now``, ``date.today``, ``time.time`` — so the JWTs the
platform simulator signs (``iat``/``exp``), PyJWT's and pylti1p3's checks, itsdangerous' token ages and
our expiries all see the same time and the LTI security tests keep their meaning. It ticks (``tick=True``)
so timeouts and expiries still pass; it works across threads (the app served on a loopback port) and
survives ``fork`` (RQ's work-horses). Processes a test starts get the same instant through
``TINGKE_TEST_CLOCK`` and ``tests.support.pinned`` (see ``pinned_command``).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from lti_tool import clock

PIN_HOUR_UTC = 17
ENV = "TINGKE_TEST_CLOCK"


def awkward_instant(real: dt.datetime | None = None) -> dt.datetime:
    """The latest 17:00 UTC at or before ``real`` (the real time by default)."""
    real = real or clock.utcnow()
    pin = real.replace(hour=PIN_HOUR_UTC, minute=0, second=0, microsecond=0)
    return pin if pin <= real else pin - dt.timedelta(days=1)


def pinned_command(*args: str) -> list[str]:
    """A command line that runs ``python -m MODULE ARGS`` under this process's (pinned) clock."""
    return [sys.executable, "-m", "tests.support.pinned", *args]


def pinned_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) plus the current pinned instant for ``pinned_command``."""
    return dict(env if env is not None else os.environ, **{ENV: clock.utcnow().isoformat()})
