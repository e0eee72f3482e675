"""Fair admission of report jobs: one tenant's pile of jobs never starves another tenant's one job.

RQ's queue is first in, first out: an institution that asks for 50 personal archives would make every
other institution wait behind all 50. So runs do not go straight into RQ. Each institution has its own
waiting list in Redis (``tingke:fair:pending:<institution>``), the institutions with waiting runs form a
ring (``tingke:fair:ring``), and at most ``WINDOW`` admitted jobs wait in RQ's ``reports`` queue at any
time. Admission takes one run from the next institution of the ring, round-robin; it happens when a run
is submitted and each time a job ends (worker/jobs.py), so the workers never idle while runs wait.

Every step is one Lua script (atomic in Redis): a run is admitted once, whichever app host or worker
admits it; two admitters at once may overshoot the window by one, never admit a run twice. Runs of one
institution keep their order. docs: README, "Production" (Many institutions).
"""

from __future__ import annotations

from typing import Any

RING = "tingke:fair:ring"
PENDING = "tingke:fair:pending:{}"
WINDOW = 2
"""Admitted jobs that may wait in RQ's queue: enough that a worker finishing a job finds the next one."""

# KEYS: ring, pending list; ARGV: institution id, run id
_SUBMIT = """
if redis.call('LPOS', KEYS[2], ARGV[2]) == false then
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
if redis.call('LPOS', KEYS[1], ARGV[1]) == false then
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
return redis.call('LLEN', KEYS[2])
"""

# KEYS: ring, RQ's queue list; ARGV: window, pending key prefix -> {institution, run} or nil
_NEXT = """
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[1]) then return nil end
local turns = redis.call('LLEN', KEYS[1])
for _ = 1, turns do
  local tenant = redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')
  if not tenant then return nil end
  local pending = ARGV[2] .. tenant
  local run = redis.call('LPOP', pending)
  if redis.call('LLEN', pending) == 0 then redis.call('LREM', KEYS[1], 0, tenant) end
  if run then return {tenant, run} end
end
return nil
"""


def submit(connection: Any, institution_id: int, run_id: int) -> None:
    """Put a run on its institution's waiting list (once: a run already waiting keeps its place), then
    admit what the window allows."""
    connection.eval(_SUBMIT, 2, RING, PENDING.format(institution_id), institution_id, run_id)
    admit(connection)


def admit(connection: Any, queue_name: str = "reports") -> list[int]:
    """Move runs from the waiting lists into RQ, one institution at a time, until the window is full."""
    from lti_tool.reports.services import enqueue_job

    admitted: list[int] = []
    queue_key = f"rq:queue:{queue_name}"
    while True:
        picked = connection.eval(_NEXT, 2, RING, queue_key, WINDOW, PENDING.format(""))
        if not picked:
            return admitted
        run_id = int(picked[1])
        enqueue_job(run_id, connection)
        admitted.append(run_id)


def is_waiting(connection: Any, institution_id: int, run_id: int) -> bool:
    """Whether the run is still on its institution's waiting list (not yet admitted into RQ)."""
    return connection.lpos(PENDING.format(institution_id), str(run_id)) is not None


def waiting(connection: Any) -> dict[int, int]:
    """Runs waiting per institution (for /metrics)."""
    return {int(t): int(connection.llen(PENDING.format(int(t)))) for t in connection.lrange(RING, 0, -1)}
