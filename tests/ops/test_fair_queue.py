"""Fair admission (reports/fairqueue.py): one institution's pile of runs does not starve another's run."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from lti_tool.reports import fairqueue


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A Redis of this test's own (the fair lists are instance-wide keys)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    conn = Redis(port=port)
    for _ in range(100):
        try:
            conn.ping()
            break
        except Exception:
            time.sleep(0.05)
    yield conn
    conn.close()
    server.terminate()
    server.wait(timeout=10)


def _drain(redis: Redis) -> list[int]:
    """What workers do: take the next job from RQ's queue, finish it, admit the next waiting run."""
    order = []
    while job_id := redis.lpop("rq:queue:reports"):
        order.append(int(job_id.decode().rsplit("-", 1)[1]))
        fairqueue.admit(redis)
    return order


def test_a_tenant_with_many_runs_does_not_starve_the_others(redis, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(fairqueue, "WINDOW", 1)
    for run in range(1, 21):  # institution 1 asks for twenty archives at once
        fairqueue.submit(redis, 1, run)
    fairqueue.submit(redis, 2, 201)  # then two other colleges ask for one report each
    fairqueue.submit(redis, 3, 301)
    assert fairqueue.waiting(redis) == {1: 19, 2: 1, 3: 1}
    order = _drain(redis)
    assert sorted(order) == [*range(1, 21), 201, 301]  # every run admitted exactly once
    assert order.index(201) <= 3 and order.index(301) <= 4  # not behind the twenty
    assert [r for r in order if r < 100] == list(range(1, 21))  # one college's runs keep their order
    assert fairqueue.waiting(redis) == {}


def test_one_hundred_institutions_take_turns(redis, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(fairqueue, "WINDOW", 2)
    for institution in range(1, 101):
        for n in range(3):
            fairqueue.submit(redis, institution, institution * 10 + n)
    order = _drain(redis)
    assert len(order) == len(set(order)) == 300
    first_round = {run // 10 for run in order[:110]}
    assert first_round == set(range(1, 101))  # every institution served before any gets a third turn


def test_orphan_check_skips_a_run_still_waiting(redis):  # type: ignore[no-untyped-def]
    fairqueue.submit(redis, 7, 70)
    fairqueue.submit(redis, 7, 71)
    fairqueue.submit(redis, 7, 72)  # the window (2) is full: 72 waits
    assert not fairqueue.is_waiting(redis, 7, 70)
    assert fairqueue.is_waiting(redis, 7, 72)
