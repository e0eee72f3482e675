"""``python -m tests.support.pinned MODULE ARGS…``: run a module with the clock at ``TINGKE_TEST_CLOCK``.

Tests start real RQ workers as separate processes; this keeps those processes on the test's pinned
clock (tests/support/clock.py), ticking from the instant the test handed over.
"""

from __future__ import annotations

import datetime as dt
import os
import runpy
import sys

import time_machine

from tests.support.clock import ENV


def main() -> None:
    module, args = sys.argv[1], sys.argv[2:]
    sys.argv = [module, *args]
    at = os.environ.get(ENV)
    if not at:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    with time_machine.travel(dt.datetime.fromisoformat(at), tick=True):
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
