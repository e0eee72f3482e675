"""Scale-out, tested: two app hosts and two worker hosts on one PostgreSQL and one Redis, nginx in front.

Each host is a Linux network namespace with its own address on a bridge (``ip netns``, veth pairs) and its
own instance folder (its own "disk"); the app hosts run gunicorn with ``deploy/gunicorn.conf.py`` and the
worker hosts ``tingke worker``, exactly as the systemd units do. PostgreSQL and Redis are reached over the
bridge (PostgreSQL through an nginx stream proxy, since the machine's server listens on loopback only),
and nginx balances the two app hosts round-robin with no sticky sessions.

Observers launch from a simulated LMS, open the record form, autosave and submit; their requests land on
both app hosts, so a session begun on one continues on the other. Midway, one app host is killed
(SIGKILL, every process): the clients retry what failed, as the page's script does, and in the end every
record is stored exactly once with its last autosaved content. Then reports are requested through the
pages and one worker host is killed while it renders one: RQ's cleanup finds the abandoned job and the
other host runs it again; every report ends succeeded, once.

Needs root, iproute2, nginx with its stream module and PostgreSQL; skipped where one is missing, unless
``TINGKE_REQUIRE_NETNS=1`` (``.ci/run``), which makes a missing piece a failure.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
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
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from lti_tool import PROJECT_ROOT
from lti_tool.lti.models import InstanceSecret
from lti_tool.observations.models import Observation
from lti_tool.reports.models import ReportRun
from tests.ops.site_support import OBSERVERS, STATUSES, Visitor, free_port, make_college, wait_for
from tests.support.platform import PlatformSimulator

# Real time: the hosts are other processes on the real clock, and this process signs their id_tokens.
pytestmark = [pytest.mark.netns, pytest.mark.real_clock]

VENV_BIN = Path(sys.executable).parent
NGINX_STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


def _missing() -> str:
    """Why this machine cannot run the test ("" when it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nginx", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/setup.sh --test installs it)"
    if not NGINX_STREAM_MODULE.exists():
        return "nginx's stream module is not installed (libnginx-mod-stream)"
    probe = f"tkp{os.getpid() % 100000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@dataclass
class Host:
    name: str
    namespace: str
    address: str
    instance: Path
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    def kill(self) -> None:
        """The host goes away: every process in its namespace dies at once (no graceful shutdown), RQ's
        work-horses included (they run in a session of their own)."""
        pids = subprocess.run(["ip", "netns", "pids", self.namespace], capture_output=True, text=True).stdout
        for pid in pids.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
        if self.log is not None:
            self.log.close()
            self.log = None


@dataclass
class Cluster:
    tag: str
    subnet: str
    bridge: str
    tmp: Path
    database_url: str = ""
    redis_port: int = 0
    http_port: int = 0
    pg_port: int = 0
    hosts: dict[str, Host] = field(default_factory=dict)
    services: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def host_env(self, host: Host) -> dict[str, str]:
        db = self.database_url.replace("127.0.0.1:5432", f"{self.gateway}:{self.pg_port}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TINGKE_", "PROMETHEUS_"))}
        env.update(
            TINGKE_DATABASE_URL=db,
            TINGKE_REDIS_URL=f"redis://{self.gateway}:{self.redis_port}/0",
            TINGKE_BASE_URL=self.base_url,
            TINGKE_INSTANCE_PATH=str(host.instance),
            TINGKE_PROXY_HOPS="1",
            TINGKE_LOG_FORMAT="json",
            TINGKE_BIND=f"{host.address}:8000",
            TINGKE_WEB_WORKERS="1",
            TINGKE_WEB_THREADS="4",
            TINGKE_WORKER_MAINTENANCE_INTERVAL="5",
            PROMETHEUS_MULTIPROC_DIR=str(host.instance / "metrics"),
        )
        return env

    def start(self, host: Host, *command: str) -> None:
        host.instance.mkdir(parents=True, exist_ok=True)
        host.log = open(host.instance / "host.log", "ab")  # noqa: SIM115 - closed when the host dies
        host.process = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, *command],
            env=self.host_env(host),
            cwd=PROJECT_ROOT,
            stdout=host.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killing the "host" kills all it runs
        )


def _network(cluster: Cluster) -> None:
    _sh("ip", "link", "add", cluster.bridge, "type", "bridge")
    _sh("ip", "addr", "add", f"{cluster.gateway}/24", "dev", cluster.bridge)
    _sh("ip", "link", "set", cluster.bridge, "up")
    for index, (name, last) in enumerate((("app1", 11), ("app2", 12), ("worker1", 21), ("worker2", 22))):
        ns = f"{cluster.tag}{name[0]}{name[-1]}"
        outside = f"{cluster.tag}v{index}"
        _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _sh("ip", "link", "set", outside, "master", cluster.bridge)
        _sh("ip", "link", "set", outside, "up")
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{cluster.subnet}.{last}/24", "dev", "eth0")
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
        cluster.hosts[name] = Host(name, ns, f"{cluster.subnet}.{last}", cluster.tmp / name)


def _teardown_network(cluster: Cluster) -> None:
    for host in cluster.hosts.values():
        subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
    for index in range(4):
        subprocess.run(["ip", "link", "del", f"{cluster.tag}v{index}"], capture_output=True)
    subprocess.run(["ip", "link", "del", cluster.bridge], capture_output=True)


NGINX_CONF = """
load_module {module};
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 512; }}
stream {{
    server {{ listen {gateway}:{pg_port}; proxy_pass 127.0.0.1:5432; }}
}}
http {{
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    log_format tingke '$remote_addr "$request_method $uri" $status $upstream_addr $request_id';
    access_log {tmp}/nginx-access.log tingke;
    upstream tingke_app {{
        server {app1}:8000 max_fails=2 fail_timeout=30s;
        server {app2}:8000 max_fails=2 fail_timeout=30s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{http_port};
        client_max_body_size 16m;
        location / {{
            proxy_pass http://tingke_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    reason = _missing()
    if reason:
        if os.environ.get("TINGKE_REQUIRE_NETNS") == "1":
            pytest.fail(f"the scale-out test cannot run: {reason}")
        pytest.skip(reason)
    admin_url = os.environ.get("TINGKE_TEST_DATABASE_URL", "")
    if not admin_url.startswith("postgresql"):
        pytest.skip("the scale-out test runs on PostgreSQL (TINGKE_TEST_DATABASE_URL)")
    tag = f"tk{os.getpid() % 10000}"
    cluster = Cluster(tag=tag, subnet=f"10.213.{os.getpid() % 200 + 20}", bridge=f"{tag}br", tmp=tmp_path)
    name = f"tingke_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    cluster.database_url = admin_url.rsplit("/", 1)[0] + "/" + name
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    try:
        _network(cluster)
        cluster.redis_port, cluster.http_port, cluster.pg_port = free_port(), free_port(), free_port()
        cluster.services.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--bind",
                    f"127.0.0.1 {cluster.gateway}",
                    "--port",
                    str(cluster.redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(redis_dir),
                    "--maxmemory-policy",
                    "noeviction",
                    "--protected-mode",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                module=NGINX_STREAM_MODULE,
                tmp=tmp_path,
                gateway=cluster.gateway,
                pg_port=cluster.pg_port,
                http_port=cluster.http_port,
                app1=cluster.hosts["app1"].address,
                app2=cluster.hosts["app2"].address,
            )
        )
        cluster.services.append(
            subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], start_new_session=True)
        )
        yield cluster
    finally:
        for host in cluster.hosts.values():
            host.kill()
        for service in cluster.services:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.pid, signal.SIGKILL)
            service.wait(timeout=10)
        _teardown_network(cluster)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_two_app_hosts_and_two_worker_hosts(cluster: Cluster) -> None:  # noqa: PLR0915 - one story
    sim = PlatformSimulator(host=cluster.gateway).start()
    sim.tool_base = cluster.base_url
    sim.tool_jwks_url = f"{cluster.base_url}/.well-known/jwks.json"
    try:
        college = make_college(cluster, sim)
        gunicorn = [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
            "lti_tool.wsgi:app",
        ]
        for name in ("app1", "app2"):
            cluster.start(cluster.hosts[name], *gunicorn)
        for name in ("worker1", "worker2"):
            cluster.start(cluster.hosts[name], str(VENV_BIN / "tingke"), "worker")
        upstreams: set[str] = set()

        def both_ready() -> bool:
            with (
                contextlib.suppress(requests.RequestException),
                requests.get(f"{cluster.base_url}/readyz", timeout=5) as r,
            ):
                if r.status_code == 200:
                    upstreams.add(r.headers.get("X-Upstream", ""))
            return len(upstreams) == 2

        wait_for(both_ready, 90, "both app hosts ready")

        # -- load: launches, autosaves, submissions; app1 dies a third of the way through ------------------
        seen: list[tuple[str, str, str]] = []
        finished = []
        lock = threading.Lock()

        def flow(i: int) -> tuple[str, int, str]:
            with Visitor(cluster, sim, college.observers[i], seen) as visitor:
                visitor.launch()
                obs_id, narrative = visitor.record(college.session_ids[i % len(college.session_ids)])
            with lock:
                finished.append(i)
            return visitor.user.sourcedid, obs_id, narrative

        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(flow, i) for i in range(OBSERVERS)]
            wait_for(lambda: len(finished) >= OBSERVERS // 3, 120, "a third of the flows")
            cluster.hosts["app1"].kill()
            results = [f.result(timeout=180) for f in futures]

        app1, app2 = (f"{cluster.hosts[n].address}:8000" for n in ("app1", "app2"))
        by_step = collections.defaultdict(set)
        for _who, step, upstream in seen:
            for addr in upstream.split(", "):
                by_step[step].add(addr)
        for step in ("login", "launch", "autosave", "submit"):
            assert {app1, app2} <= by_step[step], (step, by_step[step])
        hops = collections.defaultdict(set)
        for who, step, upstream in seen:
            if step not in ("login",):
                hops[who].add(upstream)
        assert any(len(h) > 1 for h in hops.values()), "no session moved between hosts"
        served = collections.Counter(u for _w, _s, u in seen)
        print(f"\nload: {len(seen)} answers, by host {dict(served)}, by status {dict(STATUSES)}")

        engine = create_engine(cluster.database_url)
        try:
            with Session(engine) as s:
                stored = s.execute(
                    select(Observation.id, Observation.status, Observation.narrative).where(
                        Observation.institution_id == college.institution_id
                    )
                ).all()
                assert len(stored) == OBSERVERS  # nothing lost, nothing doubled
                by_id = {row.id: row for row in stored}
                for who, obs_id, narrative in results:
                    assert by_id[obs_id].status == "submitted", who
                    assert by_id[obs_id].narrative == narrative, who
                secret_rows = s.scalar(select(func.count()).select_from(InstanceSecret))
            assert secret_rows == 1  # one secret for every host, in the database
            for host in cluster.hosts.values():
                assert not (host.instance / "secret_key").exists()

            # -- reports: a worker host dies while it renders one ----------------------------------------
            cluster.start(cluster.hosts["app1"], *gunicorn)  # the host comes back: both serve again
            requesters = [(user, "personal_archive") for user in college.observers[:8]]
            requesters += [(college.qc, "execution_report"), (college.qc, "statistics")]
            for user, kind in requesters:
                with Visitor(cluster, sim, user, seen) as v:
                    v.launch()
                    v.start_report(kind, college.semester_id)
            with Session(engine) as s:
                run_ids = s.scalars(
                    select(ReportRun.id).where(ReportRun.institution_id == college.institution_id)
                ).all()
            assert len(run_ids) == len(requesters)

            from redis import Redis
            from rq import Queue, Worker

            redis = Redis(port=cluster.redis_port)
            worker1_pid = cluster.hosts["worker1"].process.pid  # type: ignore[union-attr]
            caught: dict[str, Any] = {}

            def worker1_rendering() -> bool:
                """worker1 is inside a job whose run row says running (its output half made)."""
                for w in Worker.all(connection=redis):
                    job_id = w.get_current_job_id() if w.pid == worker1_pid else None
                    if job_id:
                        with Session(engine) as s:
                            run = s.get(ReportRun, int(job_id.rsplit("-", 1)[1]))
                            if run is not None and run.status == "running":
                                caught.update(job_id=job_id, run_id=run.id, attempts=run.attempts)
                                return True
                return False

            wait_for(worker1_rendering, 120, "worker1 to render a report", every=0.05)
            cluster.hosts["worker1"].kill()

            def all_done() -> bool:
                with Session(engine) as s:
                    statuses = s.scalars(select(ReportRun.status).where(ReportRun.id.in_(run_ids))).all()
                return all(st in ("succeeded", "failed") for st in statuses)

            killed_at = time.monotonic()
            wait_for(all_done, 240, "every report (the abandoned one retried by worker2)")
            print(f"reports: all {len(run_ids)} done {time.monotonic() - killed_at:.0f} s after worker1 died")
            with Session(engine) as s:
                runs = s.scalars(
                    select(ReportRun).where(ReportRun.institution_id == college.institution_id)
                ).all()
                assert len(runs) == len(requesters)  # no run was doubled
                for run in runs:
                    assert run.status == "succeeded", (run.id, run.error)
                    assert run.content or run.kind == "statistics", run.id  # statistics: a snapshot row
                    expected = caught["attempts"] + 1 if run.id == caught["run_id"] else 1
                    assert run.attempts == expected, (run.id, run.attempts)  # each produced once
            assert Queue("reports", connection=redis).failed_job_registry.count == 0
            with requests.get(f"{cluster.base_url}/metrics", timeout=10) as scrape:
                metrics = scrape.text
            assert 'tingke_report_runs{kind="personal_archive",status="succeeded"} 8.0' in metrics
            redis.close()
        finally:
            engine.dispose()
    finally:
        sim.stop()
