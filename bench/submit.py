"""Benchmark: N leaders at once each start, autosave and submit an observation record (issue 13 §8).

Against a real gunicorn, started here on a random loopback port with the production settings file
(deploy/gunicorn.conf.py: gthread, ``--workers`` processes × ``--threads`` threads, access log on), on a
throwaway database (a SQLite file, or a PostgreSQL database on 127.0.0.1:5432 created and dropped here),
migrated with Alembic. The world: one institution, the platform of bench/launch.py (its JWKS served on
loopback), a roster whose every fifth person holds a leader's position (bench/launch.py ``seed``), a
teacher and a semester whose sections each met yesterday, so every record may be submitted.

Each leader is one client thread with its own kept-alive connection, the threads spread over a few client
processes. Before the run, ``WARM_UP`` other leaders make a record each, unmeasured, so that the server is
warm (templates compiled, connections open), as a server in use is. Unmeasured set-up: the leader
launches from the LMS (login → signed id_token → launch → home).
Then the leaders are released: each begins at a random moment of the first ``--ramp`` seconds (by default
the think time, so that 200 leaders are in their records at once as 200 people at their phones are, not
200 clicks in the same millisecond; ``--ramp 0`` releases them all at the same moment, the worst burst)
and each, with a think time between steps:

1. **start** — ``POST /observations/start`` with a class session (303 to the form);
2. **open** — ``GET`` the form (200; the page's draft version is read from it);
3. **autosave** — ``--autosaves`` times ``POST …/autosave`` (JSON, what the page's script sends 800 ms
   after typing stops), each with more of the record, the last one completing it;
4. **submit** — ``POST …/submit`` (JSON) → the record is submitted.

Latency is each request's wall time from the client's side; the client shares the machine's cores with
gunicorn and the database. Afterwards the database is read directly: a **lost** record is a leader whose
submit was answered 200 but who has no submitted record, or whose stored narrative is not the last one
sent; a **duplicated** one is any second record of a leader for that session. Both must be 0; so must
the errors (any other status or a broken connection); the exit status says whether they were.

Usage::

    .venv/bin/python bench/submit.py                       # 200 leaders, SQLite then PostgreSQL
    .venv/bin/python bench/submit.py --postgres --leaders 50 --think 0
    .venv/bin/python bench/submit.py --postgres --ramp 0   # all 200 starts in the same moment
    .venv/bin/python bench/submit.py --sqlite --leaders 5 --json out.json   # what the test runs
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

if __package__ in (None, ""):  # run as a file (python bench/X.py): bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.launch import (
    CLIENT_ID,
    DEPLOYMENT_ID,
    ROOT,
    IdTokenSigner,
    Platform,
    fixed_claims,
    free_port,
    fresh_database,
    gunicorn,
    person_claims,
    postgres_backends_cpu,
    process_tree_cpu,
    seed,
)
from bench.launch import _json_members as json_members
from lti_tool.web import SESSION_COOKIE

STEPS = ("start", "open", "autosave", "submit")
SECTIONS = 20
WARM_UP = 8
"""Leaders whose records are made (unmeasured, 4 at a time) before the run, so that every gunicorn process
has compiled its templates and opened its database connections: a server in use is warm."""
ZONE = "Asia/Shanghai"


# -- the world ---------------------------------------------------------------------------------------------
@dataclass
class World:
    leaders: list[tuple[str, str, str, int]]
    """(employee_no, name, e-mail, person id) of each leader."""
    sessions: list[int]
    """Class sessions that met yesterday; leader i observes ``sessions[i % len(sessions)]``."""
    fields: dict[str, str]
    """A complete record's fields as the form posts them (the narrative is added per leader)."""


def build_world(database_url: str, base: str, platform: Platform, leaders: int, workdir: Path) -> World:
    """bench/launch.py's institution and roster (5 people per leader), then a teacher and a semester
    whose ``SECTIONS`` sections each met yesterday (the college's yesterday, so the class is over)."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from lti_tool import clock
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.directory.models import Person, PositionHolding, Unit
    from lti_tool.observations.fields import rating_field
    from lti_tool.policy.store import PolicyStore
    from lti_tool.tenancy import Institution
    from lti_tool.timetable.models import ClassSession, Course, CourseSection, Semester

    seeded = seed(database_url, base, platform, roster=leaders * 5, workdir=workdir)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    yesterday = clock.now(ZoneInfo(ZONE)).date() - dt.timedelta(days=1)
    monday = yesterday - dt.timedelta(days=yesterday.weekday() + 7 * 6)
    with factory.begin() as s:
        inst_id = s.scalar(select(Institution.id).where(Institution.code == "BENCH"))
        assert inst_id is not None
        unit_id = s.scalar(select(Unit.id).where(Unit.institution_id == inst_id).order_by(Unit.id))
        teacher = Person(
            institution_id=inst_id,
            employee_no="T0001",
            name="任课教师",
            email="t0001@bench.example",
            unit_id=unit_id,
        )
        s.add(teacher)
        semester = Semester(institution_id=inst_id, code="BENCH-1", week1_monday=monday, weeks=20)
        s.add(semester)
        s.flush()
        sessions: list[ClassSession] = []
        for i in range(SECTIONS):
            course = Course(institution_id=inst_id, code=f"B{i:03d}", name=f"基准课程{i}")
            s.add(course)
            s.flush()
            section = CourseSection(
                institution_id=inst_id,
                semester_id=semester.id,
                course_id=course.id,
                natural_key=f"B{i:03d}|bench",
                classes=f"基准班{i}",
                weekday=yesterday.isoweekday(),
                period_start=1,
                period_end=2,
                weeks_spec="1-20",
                full_time=True,
            )
            section.teachers = [teacher]
            s.add(section)
            s.flush()
            session = ClassSession(
                institution_id=inst_id,
                semester_id=semester.id,
                section_id=section.id,
                date=yesterday,
                week=semester.week_of(yesterday),
                period_start=1,
                period_end=2,
                starts_at=dt.time(8, 0),
                ends_at=dt.time(9, 40),
                room=f"A{100 + i}",
            )
            s.add(session)
            sessions.append(session)
        s.flush()
        ids = {no: pid for no, pid in s.execute(select(Person.employee_no, Person.id))}
        holders = set(s.scalars(select(PositionHolding.person_id)))
        policy = PolicyStore(s, inst_id).current()
        best = policy.scale[0].code
        fields = {rating_field(d.code): best for d in policy.dimensions} | {
            "arrival_time": "07:58",
            "expected_count": "40",
            "present_count": "38",
            "exchange_teacher_done": "no",
            "exchange_students_done": "no",
            "strengths": "课堂组织有序，师生互动充分。",
        }
        session_ids = [c.id for c in sessions]
    engine.dispose()
    chosen = [(no, name, email, ids[no]) for no, name, email in seeded.people if ids[no] in holders]
    return World(chosen[:leaders], session_ids, fields)


# -- a leader ----------------------------------------------------------------------------------------------
class Failed(Exception):
    pass


class Browser:
    """One leader's browser: a kept-alive connection, the session's link token, the CSRF token from the
    home page, and the cookies the tool sets (the launch's state cookie; the partitioned session cookie
    unless ``keep_session_cookie`` is off, as in a browser that does not keep it).

    Every answer of a session's page or fetch may bring a fresh link token (``X-Tingke-Session``, and the
    links of its pages): the browser goes on with the newest, as the page's script does, so a run longer
    than a link token's life (15 min, lti/sessions.py) goes on working without the cookie."""

    def __init__(self, port: int, keep_session_cookie: bool = True) -> None:
        self.port = port
        self.keep_session_cookie = keep_session_cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.csrf = ""

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, got, data = self.send(method, path, body, sent)
        for name, value in got:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                if key.strip() == SESSION_COOKIE and not self.keep_session_cookie:
                    continue
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        answer = {k.lower(): v for k, v in got}
        if answer.get("x-tingke-session"):
            self.token = answer["x-tingke-session"]
        return status, answer, data

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body or None, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn closed a kept-alive connection (keepalive = 5 s) before this request: the request
                # never reached the app, so sending it again on a fresh connection is what a browser does.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()

    def with_token(self, path: str) -> str:
        """``path`` carrying the newest link token (none where the session cookie comes back)."""
        path = re.sub(r"([?&])s=[^&]*&?", r"\1", path).rstrip("?&")
        if not self.token:
            return path
        return path + ("&" if "?" in path else "?") + "s=" + self.token

    def headers(self, json_body: bool = False) -> dict[str, str]:
        h = {"X-CSRF-Token": self.csrf}
        if self.token:
            h["X-Tingke-Session"] = self.token
        if json_body:
            h |= {"Content-Type": "application/json", "Accept": "application/json"}
        return h


def launch(browser: Browser, signer: IdTokenSigner, issuer: str, person: tuple[str, str, str]) -> None:
    no, name, email = person
    base = f"http://127.0.0.1:{browser.port}"
    form = {
        "iss": issuer,
        "login_hint": f"lms-{no}",
        "client_id": CLIENT_ID,
        "target_link_uri": f"{base}/lti/launch",
        "lti_message_hint": "resource",
        "lti_deployment_id": DEPLOYMENT_ID,
    }
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    status, headers, _ = browser.request("POST", "/lti/login", urlencode(form).encode(), form_type)
    if status != 302:
        raise Failed(f"login {status}")
    query = dict(p.split("=", 1) for p in urlsplit(headers["location"]).query.split("&") if "=" in p)
    from urllib.parse import unquote_plus

    nonce, state = unquote_plus(query["nonce"]), unquote_plus(query["state"])
    token = signer.sign(json_members(person_claims(no, name, email)), nonce, int(time.time()))
    body = urlencode({"id_token": token.decode(), "state": state}).encode()
    status, headers, _ = browser.request("POST", "/lti/launch", body, form_type)
    if status not in (302, 303):
        raise Failed(f"launch {status}")
    home = urlsplit(headers["location"])
    session = re.search(r"(?:^|&)s=([^&]+)", home.query)
    browser.token = session.group(1) if session else ""
    status, headers, page = browser.request("GET", f"{home.path}?{home.query}" if home.query else home.path)
    if status != 200:
        raise Failed(f"home {status}")
    if not headers.get("x-tingke-session"):
        browser.token = ""  # the session cookie came back: the page carries no session, nor do its calls
    csrf = re.search(rb'data-csrf="([^"]+)"', page) or re.search(rb'name="csrf" value="([^"]+)"', page)
    if not csrf:
        raise Failed("no CSRF token on the home page")
    browser.csrf = csrf.group(1).decode()


@dataclass
class Outcome:
    person_id: int
    session_id: int
    narrative: str = ""
    obs_id: int = 0
    submitted: bool = False
    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    errors: list[str] = field(default_factory=list)


def record(browser: Browser, outcome: Outcome, fields: dict[str, str], autosaves: int, think: Any) -> None:
    def timed(step: str, *args: Any, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        t0 = time.perf_counter()
        result = browser.request(*args, **kwargs)
        outcome.latencies[step].append(time.perf_counter() - t0)
        return result

    form = urlencode({"session_id": outcome.session_id, "csrf": browser.csrf}).encode()
    status, headers, _ = timed(
        "start",
        "POST",
        browser.with_token("/observations/start"),
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 303:
        raise Failed(f"start {status}")
    edit = urlsplit(headers["location"])
    found = re.search(r"/observations/(\d+)/edit", edit.path)
    if not found:
        raise Failed(f"start went to {edit.path}")
    outcome.obs_id = int(found.group(1))
    think()
    status, _, page = timed("open", "GET", browser.with_token(f"{edit.path}?{edit.query}"))
    if status != 200:
        raise Failed(f"open {status}")
    version_match = re.search(rb'name="draft_version" value="(\d+)"', page)
    if not version_match:
        raise Failed("no draft version on the form")
    version = int(version_match.group(1))
    items = list(fields.items())
    for n in range(1, autosaves + 1):
        think()
        outcome.narrative = f"第{n}次保存：教师讲解清楚，学生参与度高。记录人 {outcome.person_id}。" * n
        part = dict(items[: len(items) * n // autosaves]) | {"narrative": outcome.narrative}
        body = json.dumps({"draft_version": version, "fields": part}).encode()
        status, _, data = timed(
            "autosave",
            "POST",
            browser.with_token(f"/observations/{outcome.obs_id}/autosave"),
            body,
            browser.headers(json_body=True),
        )
        if status != 200:
            raise Failed(f"autosave {status}: {data[:200]!r}")
        version = json.loads(data)["draft_version"]
    think()
    body = json.dumps({"draft_version": version}).encode()
    status, _, data = timed(
        "submit",
        "POST",
        browser.with_token(f"/observations/{outcome.obs_id}/submit"),
        body,
        browser.headers(json_body=True),
    )
    if status != 200 or json.loads(data).get("status") != "submitted":
        raise Failed(f"submit {status}: {data[:200]!r}")
    outcome.submitted = True


@dataclass
class Spec:
    port: int
    issuer: str
    signer: IdTokenSigner
    leaders: list[tuple[str, str, str, int, int]]
    """(employee_no, name, e-mail, person id, session id) of this process's leaders."""
    fields: dict[str, str]
    autosaves: int
    think: float
    ramp: float
    """Each leader begins at a uniform random moment of the first ``ramp`` seconds (0: the same moment)."""
    seed: int
    keep_session_cookie: bool
    launching: int = 2
    """Leaders of this process launching at once (the unmeasured set-up): 200 launches at the same
    moment on a busy machine only time out."""


def client_process(spec: Spec, go: Any, ready: Any, out: Any) -> None:
    """One thread per leader: launch (unmeasured), wait for every leader of every process, then record."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    launched = threading.Barrier(len(spec.leaders) + 1)
    release = threading.Event()
    gate = threading.Semaphore(spec.launching)

    def leader(idx: int, no: str, name: str, email: str, person_id: int, session_id: int) -> None:
        rng = random.Random(spec.seed * 1000 + idx)

        def think() -> None:
            if spec.think:
                time.sleep(rng.uniform(0.5, 1.5) * spec.think)

        browser = Browser(spec.port, spec.keep_session_cookie)
        outcome = Outcome(person_id, session_id)
        try:
            with gate:
                launch(browser, spec.signer, spec.issuer, (no, name, email))
        except Exception as exc:  # noqa: BLE001 - every failure is counted
            outcome.errors.append(f"launch: {type(exc).__name__}: {exc}")
        launched.wait()
        release.wait()
        if not outcome.errors:
            try:
                # the same second, not the same microsecond, or spread over the ramp
                time.sleep(rng.uniform(0, spec.ramp or 0.05))
                record(browser, outcome, spec.fields, spec.autosaves, think)
            except Exception as exc:  # noqa: BLE001
                outcome.errors.append(f"{type(exc).__name__}: {exc}")
        browser.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=leader, args=(i, *person)) for i, person in enumerate(spec.leaders)]
    for t in threads:
        t.start()
    launched.wait()
    ready.put(len(spec.leaders))
    go.wait()
    release.set()
    for t in threads:
        t.join()
    out.put(outcomes)


def warm_up(
    port: int, platform: Platform, signer: IdTokenSigner, world: World, keep_session_cookie: bool
) -> None:
    def one(i: int) -> None:
        no, name, email, person_id = world.leaders[i]
        browser = Browser(port, keep_session_cookie)
        launch(browser, signer, platform.issuer, (no, name, email))
        record(browser, Outcome(person_id, world.sessions[-1 - i]), world.fields, 1, lambda: None)
        browser.close()

    for first in range(0, WARM_UP, 4):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(first, first + 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# -- where the server's time goes (no load) ----------------------------------------------------------------
class InProcessBrowser(Browser):
    """A leader's browser on the Flask test client, in this process: each request's CPU time (this
    process's clock: the app runs on this thread) and SQL statements are recorded per step, and the
    step named in ``profiling`` runs under cProfile on the CPU clock."""

    def __init__(self, client: Any, keep_session_cookie: bool, probe: dict[str, Any]) -> None:
        super().__init__(9, keep_session_cookie)  # launch() addresses 127.0.0.1:9, the base URL below
        self.client = client
        self.probe = probe

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        step = step_of(method, path.split("?", 1)[0])
        statements: list[str] = self.probe["statements"]
        statements.clear()
        profiler = self.probe["profiler"] if self.probe["profiling"] == step else None
        if profiler is not None:
            profiler.enable()
        t0 = time.process_time()
        response = self.client.open(path, method=method, data=body or None, headers=headers)
        cpu = time.process_time() - t0
        if profiler is not None:
            profiler.disable()
        if self.probe["record"] is not None:
            self.probe["record"].setdefault(step, []).append((cpu, len(statements)))
            if self.probe["show"] and step not in self.probe["shown"]:
                self.probe["shown"].add(step)
                print(f"  {step} ({method} {path.split('?', 1)[0]}): {len(statements)} statements")
                print("".join(f"    {st}\n" for st in statements), end="")
        return response.status_code, list(response.headers.items()), response.get_data()


def profile(args: argparse.Namespace, postgres: bool) -> None:
    """Each step's CPU milliseconds and SQL statements in this process (the Flask test client, one leader
    at a time, after a warm-up), then a cProfile of each step on the CPU clock: self time by package and
    the cumulative time of Tingke's frames."""
    import cProfile
    import pstats

    from sqlalchemy import event

    from bench.launch import self_time_by_package
    from lti_tool.app import create_app

    label = "PostgreSQL" if postgres else "SQLite"
    keep = args.session == "cookie"
    with tempfile.TemporaryDirectory(prefix="tingke-submit-") as tmp:
        workdir = Path(tmp)
        platform = Platform()
        try:
            with fresh_database(postgres, workdir) as url:
                base = "http://127.0.0.1:9"
                world = build_world(url, base, platform, args.leaders + WARM_UP, workdir)
                signer = IdTokenSigner(platform.private, platform.kid, fixed_claims(platform.issuer, base))
                os.environ.update(
                    TINGKE_DATABASE_URL=url,
                    TINGKE_SECRET_KEY="bench-secret",
                    TINGKE_BASE_URL=base,
                    TINGKE_INSTANCE_PATH=str(workdir / "instance"),
                    TINGKE_REDIS_URL="redis://127.0.0.1:1/0",
                    TINGKE_LOG_FORMAT="json",
                    TINGKE_TIMEZONE=ZONE,
                )
                app = create_app()
                engine = app.extensions["tingke"].session_factory.kw["bind"]
                probe: dict[str, Any] = {
                    "statements": [],
                    "profiler": None,
                    "profiling": "",
                    "record": None,
                    "show": False,
                    "shown": set(),
                }
                event.listen(
                    engine,
                    "before_cursor_execute",
                    lambda conn, cur, stmt, *rest: probe["statements"].append(" ".join(stmt.split())[:140]),
                )

                def one(person: tuple[str, str, str, int], round_: int) -> None:
                    """The leader's record of the ``round_``-th class session: a new record every round."""
                    browser = InProcessBrowser(app.test_client(use_cookies=False), keep, probe)
                    launch(browser, signer, platform.issuer, person[:3])
                    outcome = Outcome(person[3], world.sessions[round_])
                    record(browser, outcome, world.fields, args.autosaves, lambda: None)

                for person in world.leaders[:WARM_UP]:
                    one(person, 0)
                leaders = world.leaders[WARM_UP:]
                print(f"\n{label}: SQL statements of each step (a leader's first record):")
                probe.update(record={}, show=True)
                one(leaders[0], 0)
                probe.update(show=False)
                for person in leaders[1:]:
                    one(person, 0)
                # the plumbing every request pays (authenticate, headers, log line, commit): a session renewal
                browser = InProcessBrowser(app.test_client(use_cookies=False), keep, probe)
                launch(browser, signer, platform.issuer, leaders[0][:3])
                for _ in leaders:
                    browser.request("GET", browser.with_token("/lti/session"), b"", browser.headers())
                record_: dict[str, list[tuple[float, int]]] = probe["record"]
                print(f"\n{label}: median per request over {len(leaders)} leaders (in-process, no profiler):")
                for step in ("other", "session", *STEPS):
                    cpu = [c for c, _ in record_.get(step, [])]
                    stm = [n for _, n in record_.get(step, [])]
                    print(
                        f"  {step:9} {statistics.median(cpu) * 1000:6.2f} ms CPU  "
                        f"(mean {statistics.fmean(cpu) * 1000:6.2f})  {statistics.median(stm):.0f} statements"
                    )
                probe.update(record=None)
                for round_, step in enumerate(STEPS if args.profile_lines else (), start=1):
                    profiler = cProfile.Profile(time.process_time)
                    probe.update(profiler=profiler, profiling=step)
                    for person in leaders:
                        one(person, round_)
                    stats = pstats.Stats(profiler)
                    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # pstats' table
                    calls = sum(nc for (_cc, nc, _tt, _ct, _callers) in raw.values())
                    n = len(leaders) * (args.autosaves if step == "autosave" else 1)
                    print(
                        f"\ncProfile of {step} ({n} requests, {calls / n:,.0f} function calls per request); "
                        "self time by package:"
                    )
                    print(self_time_by_package(stats))
                    print(f"cProfile of {step}: cumulative")
                    stats.sort_stats("cumulative").print_stats(args.profile_lines)
                engine.dispose()
        finally:
            platform.stop()


# -- a run -------------------------------------------------------------------------------------------------
@dataclass
class Result:
    database: str
    leaders: int
    latencies: dict[str, list[float]]
    errors: list[str]
    submitted_ok: int
    lost: int
    duplicated: int
    wall: float
    server_cpu: float
    db_cpu: float | None
    load: tuple[float, float, float]
    started: float
    """``time.monotonic()`` when the leaders were released (the same clock in every process)."""
    step_cpu: dict[str, list[float]] = field(default_factory=dict)
    """Each step's requests' CPU seconds on their gunicorn thread (``measuring_config``)."""

    def pct(self, step: str, q: float) -> float:
        values = sorted(self.latencies[step])
        if not values:
            return float("nan")
        return 1000 * values[min(len(values) - 1, int(q * len(values)))]

    def cpu_ms(self, step: str) -> float:
        """The mean CPU milliseconds of one request of ``step`` on its gunicorn thread."""
        values = self.step_cpu.get(step, [])
        return 1000 * statistics.fmean(values) if values else float("nan")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "leaders": self.leaders,
            "steps": {
                s: {
                    "requests": len(self.latencies[s]),
                    "p50_ms": self.pct(s, 0.50),
                    "p95_ms": self.pct(s, 0.95),
                    "p99_ms": self.pct(s, 0.99),
                    "max_ms": self.pct(s, 1.0),
                    "server_thread_cpu_ms": self.cpu_ms(s),
                }
                for s in STEPS
            },
            "errors": self.errors,
            "submitted_ok": self.submitted_ok,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "wall_s": self.wall,
            "server_cpu_s": self.server_cpu,
            "db_cpu_s": self.db_cpu,
            "load_average": self.load,
        }


def check_records(database_url: str, outcomes: list[Outcome]) -> tuple[int, int]:
    """(lost, duplicated), read from the database itself."""
    from sqlalchemy import func, select

    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.observations.models import Observation

    engine = make_engine(database_url)
    lost = duplicated = 0
    with make_session_factory(engine)() as s:
        rows = s.execute(
            select(Observation.author_id, Observation.session_id, Observation.status, Observation.narrative)
        ).all()
        per_key: dict[tuple[int, int], list[Any]] = {}
        for author, session, status, narrative in rows:
            per_key.setdefault((author, session), []).append((status, narrative))
        for outcome in outcomes:
            mine = per_key.get((outcome.person_id, outcome.session_id), [])
            duplicated += max(0, len(mine) - 1)
            stored = any(st == "submitted" and nv == outcome.narrative for st, nv in mine)
            if outcome.submitted and not stored:
                lost += 1
        assert s.scalar(select(func.count()).select_from(Observation)) == len(rows)
    engine.dispose()
    return lost, duplicated


MEASURING_HOOKS = r"""
# bench/submit.py: deploy/gunicorn.conf.py as it is, plus the CPU time of each request's thread.
import os as _os
import time as _time

exec(compile(open({deploy!r}).read(), {deploy!r}, "exec"))
_CPU_DIR = _os.environ["BENCH_REQUEST_CPU_DIR"]


def pre_request(worker, req):
    req.bench_cpu = _time.thread_time()


def post_request(worker, req, environ, resp):
    cpu = _time.thread_time() - req.bench_cpu
    status = getattr(resp, "status_code", 0) or 0
    line = f"{{_time.monotonic():.6f}}\t{{req.method}}\t{{req.path}}\t{{status}}\t{{cpu * 1e6:.0f}}\n"
    fd = _os.open(f"{{_CPU_DIR}}/{{_os.getpid()}}.tsv", _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT, 0o600)
    try:
        _os.write(fd, line.encode())
    finally:
        _os.close(fd)
"""


def measuring_config(workdir: Path) -> Path:
    """deploy/gunicorn.conf.py with two hooks that time each request on its thread's CPU clock (from
    before the WSGI app is called to after the answer is written): the server's CPU per step, measured
    where it is spent, so a busy machine slows the steps but does not change their cost."""
    path = workdir / "gunicorn_measuring.conf.py"
    path.write_text(MEASURING_HOOKS.format(deploy=str(ROOT / "deploy" / "gunicorn.conf.py")))
    return path


def step_of(method: str, path: str) -> str:
    if path == "/observations/start":
        return "start"
    if path.endswith("/autosave"):
        return "autosave"
    if path.endswith("/submit"):
        return "submit"
    if method == "GET" and re.fullmatch(r"/observations/\d+/edit", path):
        return "open"
    if path == "/lti/session":
        return "session"
    return "other"


def request_cpu(folder: Path, since: float) -> dict[str, list[float]]:
    """Each step's requests' CPU seconds in the gunicorn workers (their threads), from ``since`` on."""
    out: dict[str, list[float]] = {}
    for path in folder.glob("*.tsv"):
        for line in path.read_text().splitlines():
            at, method, url, _status, micros = line.split("\t")
            if float(at) >= since:
                out.setdefault(step_of(method, url), []).append(int(micros) / 1e6)
    return out


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis (no persistence) for the run, as in production: each submit queues the teacher's
    notification after its commit and records the job's id. Without ``redis-server`` installed, an
    address nothing answers on (the submit then leaves the row to the reconciler, as when Redis is down)."""
    if shutil.which("redis-server") is None:
        yield "redis://127.0.0.1:1/0"
        return
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(args: argparse.Namespace, postgres: bool) -> Result:
    label = "PostgreSQL" if postgres else "SQLite"
    with tempfile.TemporaryDirectory(prefix="tingke-submit-") as tmp:
        workdir = Path(tmp)
        platform = Platform()
        try:
            with fresh_database(postgres, workdir) as url:
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                world = build_world(url, base, platform, args.leaders + WARM_UP, workdir)
                if len(world.leaders) < args.leaders + WARM_UP:
                    raise RuntimeError(f"only {len(world.leaders)} leaders in the roster")
                signer = IdTokenSigner(platform.private, platform.kid, fixed_claims(platform.issuer, base))
                cpu_dir = workdir / "request-cpu"
                cpu_dir.mkdir()
                with (
                    redis_server() as redis_url,
                    gunicorn(
                        url,
                        port,
                        workdir,
                        args.workers,
                        "gthread",
                        args.threads,
                        config=measuring_config(workdir),
                        extra_env={
                            "TINGKE_LOG_FORMAT": "json",
                            "TINGKE_TIMEZONE": ZONE,
                            "BENCH_REQUEST_CPU_DIR": str(cpu_dir),
                            "TINGKE_REDIS_URL": redis_url,
                        },
                    ) as server,
                ):
                    result = drive(args, label, url, port, platform, signer, world, server.pid, postgres)
                    result.step_cpu = request_cpu(cpu_dir, result.started)
        finally:
            platform.stop()
    return result


def drive(
    args: argparse.Namespace,
    label: str,
    url: str,
    port: int,
    platform: Platform,
    signer: IdTokenSigner,
    world: World,
    server_pid: int,
    postgres: bool,
) -> Result:
    ctx = mp.get_context("fork")
    go, ready, out = ctx.Event(), ctx.Queue(), ctx.Queue()
    assigned = [
        (*person[:3], person[3], world.sessions[i % len(world.sessions)])
        for i, person in enumerate(world.leaders[WARM_UP:])
    ]
    processes = max(1, min(args.processes, len(assigned)))
    specs = [
        Spec(
            port,
            platform.issuer,
            signer,
            assigned[i::processes],
            world.fields,
            args.autosaves,
            args.think,
            args.ramp,
            i,
            args.session == "cookie",
        )
        for i in range(processes)
    ]
    warm_up(port, platform, signer, world, args.session == "cookie")
    procs = [ctx.Process(target=client_process, args=(spec, go, ready, out)) for spec in specs]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=600)
    db_name = url.rsplit("/", 1)[-1]
    db_cpu0 = postgres_backends_cpu(db_name) if postgres else {}
    cpu0 = process_tree_cpu(server_pid)
    t0 = time.perf_counter()
    started = time.monotonic()
    go.set()
    outcomes: list[Outcome] = []
    for _ in procs:
        outcomes += out.get(timeout=1800)
    wall = time.perf_counter() - t0
    server_cpu = process_tree_cpu(server_pid) - cpu0
    db_cpu = None
    if postgres:
        db_cpu1 = postgres_backends_cpu(db_name)
        db_cpu = sum(v - db_cpu0.get(pid, 0.0) for pid, v in db_cpu1.items())
    load = os.getloadavg()
    for p in procs:
        p.join()
    lost, duplicated = check_records(url, outcomes)
    latencies: dict[str, list[float]] = {s: [] for s in STEPS}
    for o in outcomes:
        for s in STEPS:
            latencies[s] += o.latencies[s]
    return Result(
        label,
        len(outcomes),
        latencies,
        [e for o in outcomes for e in o.errors],
        sum(o.submitted for o in outcomes),
        lost,
        duplicated,
        wall,
        server_cpu,
        db_cpu,
        load,
        started,
    )


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    session = (
        "the session cookie kept"
        if args.session == "cookie"
        else "no session cookie (link tokens, renewed from each answer)"
    )
    begin = f"beginning within {args.ramp:g} s" if args.ramp else "released at the same moment"
    print(
        f"\n{args.leaders} leaders at once ({begin}), {args.autosaves} autosaves each, think time "
        f"{args.think:g} s (±50 %), gunicorn gthread {args.workers}×{args.threads} "
        f"(deploy/gunicorn.conf.py), {args.processes} client processes on the same machine, {session}\n"
    )
    print("| database | step | requests | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/request |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for s in STEPS:
            print(
                f"| {r.database} | {s} | {len(r.latencies[s])} | {r.pct(s, 0.5):.0f} | {r.pct(s, 0.95):.0f} "
                f"| {r.pct(s, 0.99):.0f} | {r.pct(s, 1.0):.0f} | {r.cpu_ms(s):.1f} |"
            )
    print()
    for r in results:
        requests = r.requests
        mean = statistics.fmean(v for vs in r.latencies.values() for v in vs) * 1000 if requests else 0
        db = (
            f", PostgreSQL CPU {r.db_cpu:.1f} s ({1000 * r.db_cpu / max(requests, 1):.1f} ms/request)"
            if r.db_cpu is not None
            else ""
        )
        print(
            f"{r.database}: submitted {r.submitted_ok}/{r.leaders}, lost {r.lost}, "
            f"duplicated {r.duplicated}, errors {len(r.errors)}; {requests} requests in {r.wall:.1f} s "
            f"(mean {mean:.0f} ms); gunicorn CPU {r.server_cpu:.1f} s "
            f"({1000 * r.server_cpu / max(requests, 1):.1f} ms/request, of which on the requests' threads "
            f"{sum(map(sum, r.step_cpu.values())):.1f} s){db}; gunicorn got "
            f"{r.server_cpu / max(r.wall, 1e-9):.2f} of a core; "
            f"load average {r.load[0]:.2f} {r.load[1]:.2f} {r.load[2]:.2f}"
        )
        for e in sorted(set(r.errors))[:10]:
            print(f"  error ×{r.errors.count(e)}: {e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    db = parser.add_mutually_exclusive_group()
    db.add_argument("--sqlite", action="store_true", help="SQLite only")
    db.add_argument("--postgres", action="store_true", help="PostgreSQL only (127.0.0.1:5432)")
    parser.add_argument("--leaders", type=int, default=200)
    parser.add_argument("--autosaves", type=int, default=3)
    parser.add_argument(
        "--think", type=float, default=5.0, help="seconds between a leader's steps, ±50 %% (0: none)"
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="the leaders begin at random moments of the first RAMP seconds (default: the think time; "
        "0: all at the same moment)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (TINGKE_WEB_WORKERS)")
    parser.add_argument("--threads", type=int, default=4, help="threads per process (TINGKE_WEB_THREADS)")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument(
        "--session",
        choices=("cookie", "token"),
        default="cookie",
        help="cookie: the browser keeps the partitioned session cookie (what browsers do); token: it does "
        "not, and every request carries the link token the last answer brought (lti/sessions.py)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="no load: each step's CPU and SQL in-process, then a cProfile of each (--leaders of them)",
    )
    parser.add_argument("--profile-lines", type=int, default=40, help="cProfile rows a step (0: none)")
    args = parser.parse_args(argv)
    if args.ramp is None:
        args.ramp = args.think
    databases = [False] if args.sqlite else [True] if args.postgres else [False, True]
    if args.profile:
        for postgres in databases:
            profile(args, postgres)
        return 0
    results = [run(args, postgres) for postgres in databases]
    print_table(results, args)
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=1))
    return 1 if any(r.lost or r.duplicated or r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
