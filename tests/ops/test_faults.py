"""The fault suite (issue 13 §9): Tingke as real processes on loopback, with faults injected.

- Redis stopped: a private ``redis-server`` on a random port is killed; records still save, a report asked
  for answers a 503 page saying so, and once Redis is back (empty: it kept nothing) the worker's
  reconciler queues the run and it is made without anyone asking again.
- A worker killed mid-report: a real ``tingke worker`` is SIGKILLed (its work-horse too, as when its host
  dies) while it renders; another worker makes the report within two minutes, exactly once.
- A gunicorn worker killed during submissions: gunicorn with two processes, many clients submitting at
  once, one process SIGKILLed midway; the clients retry what failed, as the page's script does, and the
  database holds exactly the records the clients believe they submitted, each once, with its last text.

PostgreSQL when ``TINGKE_TEST_DATABASE_URL`` names one (a throwaway database), SQLite otherwise. Real
time: the processes run on the real clock and this process signs their id_tokens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from lti_tool import PROJECT_ROOT
from lti_tool.directory.models import Person
from lti_tool.observations.models import Observation
from lti_tool.reports.models import ReportRun, StatisticsSnapshot
from lti_tool.reports.services import ReportRunService
from tests.ops.site_support import College, Visitor, free_port, make_college, wait_for
from tests.support.platform import PlatformSimulator

pytestmark = [pytest.mark.real_clock]

VENV_BIN = Path(sys.executable).parent
PERIOD = 10
"""The workers' maintenance round here (TINGKE_WORKER_MAINTENANCE_INTERVAL; 30 s in production)."""


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers, an RQ worker's work-horse)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, on a random loopback port, that keeps nothing across restarts."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.folder), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        conn = Redis(port=self.port)
        try:
            wait_for(lambda: _answers(conn), 30, "the private Redis to answer", every=0.1)
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process is not None:
            _kill(self.process.pid)
            self.process.wait(timeout=10)
            self.process = None


def _answers(conn: Redis) -> bool:
    try:
        return bool(conn.ping())
    except Exception:
        return False


@dataclass
class Site:
    """One Tingke installation on loopback: a database, a private Redis, gunicorn and workers."""

    database_url: str
    tmp: Path
    redis: PrivateRedis
    base_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TINGKE_", "PROMETHEUS_"))}
        env.update(
            TINGKE_DATABASE_URL=self.database_url,
            TINGKE_REDIS_URL=self.redis.url,
            TINGKE_BASE_URL=self.base_url,
            TINGKE_INSTANCE_PATH=str(self.tmp / name),
            TINGKE_WORKER_MAINTENANCE_INTERVAL=str(PERIOD),
            PROMETHEUS_MULTIPROC_DIR=str(self.tmp / name / "metrics"),
            **extra,
        )
        return env

    def start(self, name: str, *command: str, **extra: str) -> subprocess.Popen[bytes]:
        (self.tmp / name).mkdir(parents=True, exist_ok=True)
        log = open(self.tmp / name / "process.log", "ab")  # noqa: SIM115 - the process owns it
        process = subprocess.Popen(
            command,
            env=self.env(name, **extra),
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def start_web(self, workers: int = 2) -> subprocess.Popen[bytes]:
        gunicorn = self.start(
            "web",
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
            "lti_tool.wsgi:app",
            TINGKE_BIND=self.base_url.removeprefix("http://"),
            TINGKE_WEB_WORKERS=str(workers),
            TINGKE_WEB_THREADS="4",
        )

        def serving() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{self.base_url}/healthz", timeout=5).status_code == 200
            return False

        wait_for(serving, 90, "gunicorn to answer")
        wait_for(lambda: len(_children(gunicorn.pid)) >= workers, 60, "every gunicorn worker")
        return gunicorn

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, str(VENV_BIN / "tingke"), "worker")

    def kill(self, name: str) -> None:
        """The process dies as when its host does: SIGKILL, its children (work-horses) too."""
        process = self.processes.pop(name)
        for child in _children(process.pid):
            _kill(child)
        _kill(process.pid)
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.tmp / name / "process.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop_all(self) -> None:
        for name in list(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.processes[name].pid, signal.SIGKILL)
            self.kill(name)
        self.redis.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    admin_url = os.environ.get("TINGKE_TEST_DATABASE_URL", "")
    name = f"tingke_faults_{uuid.uuid4().hex[:10]}"
    admin = None
    if admin_url.startswith("postgresql"):
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = admin_url.rsplit("/", 1)[0] + "/" + name
    else:
        database_url = f"sqlite:///{tmp_path / 'tingke.db'}"
    site = Site(database_url, tmp_path, PrivateRedis(free_port(), tmp_path / "redis"))
    site.base_url = f"http://127.0.0.1:{free_port()}"
    try:
        yield site
    finally:
        site.stop_all()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture
def lms(site: Site) -> Iterator[PlatformSimulator]:
    sim = PlatformSimulator().start()
    sim.tool_base = site.base_url
    sim.tool_jwks_url = f"{site.base_url}/.well-known/jwks.json"
    try:
        yield sim
    finally:
        sim.stop()


def _runs(engine: Any, institution_id: int) -> list[ReportRun]:
    with Session(engine) as s:
        return list(
            s.scalars(
                select(ReportRun).where(ReportRun.institution_id == institution_id).order_by(ReportRun.id)
            )
        )


def _stored_records(engine: Any, institution_id: int) -> dict[int, tuple[str, str]]:
    with Session(engine) as s:
        rows = s.execute(
            select(Observation.id, Observation.status, Observation.narrative).where(
                Observation.institution_id == institution_id
            )
        ).all()
    return {row.id: (row.status, row.narrative) for row in rows}


# -- Redis stopped ------------------------------------------------------------------------------------
def test_redis_stopped_records_save_report_503_then_made(site: Site, lms: PlatformSimulator) -> None:
    college = make_college(site, lms, count=2)
    site.redis.start()
    site.start_web()
    site.start_worker("worker")  # loses Redis while it runs
    engine = create_engine(site.database_url)
    seen: list[tuple[str, str, str]] = []
    try:
        site.redis.stop()
        late = site.start_worker("late-worker")  # starts while Redis is away: waits for it
        # the record path needs no Redis: launch, start, autosave, submit all answer
        with Visitor(site, lms, college.observers[0], seen) as observer:
            observer.launch()
            obs_id, narrative = observer.record(college.session_ids[0])
        assert _stored_records(engine, college.institution_id) == {obs_id: ("submitted", narrative)}
        ready = requests.get(f"{site.base_url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
        assert ready.json()["checks"]["redis"]["ok"] is False

        with Visitor(site, lms, college.qc, seen) as qc:
            qc.launch()
            assert qc.send("reports", "GET", f"/reports/?s={qc.token}").status_code == 200
            asked = qc.send(
                "report",
                "POST",
                f"/reports/start?s={qc.token}",
                data={"csrf": qc.csrf, "kind": "statistics", "semester_id": college.semester_id},
                retry_statuses=set(),
            )
        assert asked.status_code == 503, asked.text[:2000]
        assert "任务队列暂时无法连接" in asked.text  # the launch language
        (run,) = _runs(engine, college.institution_id)
        assert run.status == "pending" and not run.job_id  # kept, waiting for the queue

        waiting = "Redis cannot be reached"
        wait_for(lambda: waiting in site.log("late-worker"), 90, "the late worker to wait for Redis")
        site.redis.start()  # back, and empty: the run's job exists nowhere
        back = time.monotonic()

        def made() -> bool:
            return all(r.status in ("succeeded", "failed") for r in _runs(engine, college.institution_id))

        wait_for(made, PERIOD + 110, "the run to be made once Redis is back", every=0.5)
        took = time.monotonic() - back
        print(f"\nRedis back: the run was queued and made {took:.1f} s later (maintenance every {PERIOD} s)")
        (run,) = _runs(engine, college.institution_id)
        assert run.status == "succeeded" and run.attempts == 1, (run.status, run.error, site.log("worker"))
        assert site.processes["worker"].poll() is None and late.poll() is None  # both lived through it
        with Session(engine) as s:
            snapshots = s.scalars(
                select(StatisticsSnapshot).where(StatisticsSnapshot.institution_id == college.institution_id)
            ).all()
        assert len(snapshots) == 1
    finally:
        engine.dispose()


# -- a worker killed mid-report -----------------------------------------------------------------------
def test_worker_killed_mid_report_another_makes_it_once(site: Site, lms: PlatformSimulator) -> None:
    college = make_college(site, lms, count=4)
    site.redis.start()
    engine = create_engine(site.database_url)
    redis = Redis(port=site.redis.port)
    try:
        with Session(engine) as s:
            people = s.scalars(
                select(Person.id).where(Person.institution_id == college.institution_id).limit(3)
            ).all()
            asked = [("execution_report", None), ("statistics", None)]
            asked += [("personal_archive", person_id) for person_id in people]
            service = ReportRunService(s, college.institution_id)
            for kind, person_id in asked:
                service.start(kind, redis, semester_id=college.semester_id, person_id=person_id)
        run_ids = [r.id for r in _runs(engine, college.institution_id)]
        assert len(run_ids) == len(asked)
        first = site.start_worker("worker1")
        caught: dict[str, int] = {}

        def rendering() -> bool:
            """worker1 is inside a job whose run row says running: its output half made."""
            from rq import Worker

            for w in Worker.all(connection=redis):
                job_id = w.get_current_job_id() if w.pid == first.pid else None
                if job_id:
                    with Session(engine) as s:
                        run = s.get(ReportRun, int(job_id.rsplit("-", 1)[1]))
                        if run is not None and run.status == "running":
                            caught.update(run_id=run.id, attempts=run.attempts)
                            return True
            return False

        wait_for(rendering, 120, "worker1 to render a report", every=0.02)
        site.kill("worker1")
        killed = time.monotonic()
        site.start_worker("worker2")

        def all_done() -> bool:
            with Session(engine) as s:
                statuses = s.scalars(select(ReportRun.status).where(ReportRun.id.in_(run_ids))).all()
            return all(st in ("succeeded", "failed") for st in statuses)

        wait_for(all_done, 150, "every report, the abandoned one made by worker2", every=0.5)
        took = time.monotonic() - killed
        print(f"\nworker killed: every report done {took:.1f} s later ({len(run_ids)} runs)")
        assert took < 120, site.log("worker2")
        runs = _runs(engine, college.institution_id)
        assert [r.id for r in runs] == run_ids  # no run added or doubled
        for run in runs:
            assert run.status == "succeeded", (run.id, run.error, site.log("worker2"))
            assert run.content or run.kind == "statistics", run.id  # statistics: a snapshot row
            expected = caught["attempts"] + 1 if run.id == caught["run_id"] else 1
            assert run.attempts == expected, (run.id, run.attempts)  # each made once more at most
        with Session(engine) as s:
            snapshots = s.scalars(
                select(StatisticsSnapshot).where(StatisticsSnapshot.institution_id == college.institution_id)
            ).all()
        assert len(snapshots) == 1  # the statistics' one output
    finally:
        redis.close()
        engine.dispose()


# -- a gunicorn worker killed during submissions ------------------------------------------------------
CLIENTS = 16


def test_gunicorn_worker_killed_during_submissions_nothing_lost_or_doubled(
    site: Site, lms: PlatformSimulator
) -> None:
    college: College = make_college(site, lms, count=CLIENTS)
    site.redis.start()
    gunicorn = site.start_web(workers=2)
    seen: list[tuple[str, str, str]] = []
    finished: list[int] = []
    lock = threading.Lock()

    def flow(i: int) -> tuple[str, int, str]:
        with Visitor(site, lms, college.observers[i], seen) as visitor:
            visitor.launch()
            obs_id, narrative = visitor.record(college.session_ids[i % len(college.session_ids)])
        with lock:
            finished.append(i)
        return visitor.user.sourcedid, obs_id, narrative

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(flow, i) for i in range(CLIENTS)]
        wait_for(lambda: len(finished) >= CLIENTS // 4, 150, "a quarter of the submissions")
        victims = _children(gunicorn.pid)
        assert len(victims) == 2, victims
        _kill(victims[0])
        results = [f.result(timeout=170) for f in futures]
    assert len(finished) == CLIENTS
    assert victims[0] not in _children(gunicorn.pid)  # it did die (gunicorn started another)

    believed = {obs_id: ("submitted", narrative) for _who, obs_id, narrative in results}
    assert len(believed) == CLIENTS  # each client has its own record
    engine = create_engine(site.database_url)
    try:
        assert _stored_records(engine, college.institution_id) == believed  # none lost, none doubled
    finally:
        engine.dispose()
