"""Helpers for tests that use the machine's Redis (settings.redis_url, db 15) and a real RQ worker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from redis import Redis

from lti_tool import PROJECT_ROOT
from lti_tool.config import Settings
from tests.support.clock import pinned_command, pinned_env


def redis_for(settings: Settings) -> Redis:
    conn = Redis.from_url(settings.redis_url)
    conn.ping()  # a missing Redis fails the test loudly: CI starts one (.ci/run)
    # The test database (db 15) is the tests' own. Run ids restart with every test database, so a job
    # left by an earlier run ("report-run-1") would be taken for this test's: start each test empty.
    conn.flushdb()
    return conn


def start_burst_worker(settings: Settings, tmp_path: Path, *queues: str) -> subprocess.Popen[bytes]:
    """``rq worker --burst`` in its own process, pointed at the test database by the environment —
    exactly how production starts it (it forks a work-horse per job)."""
    env = pinned_env(
        dict(
            os.environ,
            TINGKE_DATABASE_URL=settings.database_url,
            TINGKE_REDIS_URL=settings.redis_url,
            TINGKE_INSTANCE_PATH=str(tmp_path / "worker-instance"),
            PYTHONPATH=str(PROJECT_ROOT),
        )
    )
    return subprocess.Popen(
        pinned_command("rq.cli", "worker", "--burst", "--url", settings.redis_url, *(queues or ("reports",))),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 240) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")
