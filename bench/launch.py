"""Benchmark: the full LTI 1.3 login + launch flow against Tingke under gunicorn on loopback.

What one "launch" is, exactly as a browser in Moodle's iframe drives it:

1. ``POST /lti/login`` (iss, login_hint, client_id, target_link_uri, …) → 302 to the platform's
   authentication URL carrying ``state`` and ``nonce``, and the partitioned state cookie;
2. the platform signs an id_token for that nonce (RS256, in this process, with its own key);
3. ``POST /lti/launch`` (id_token, state) with the state cookie → 303 to ``/home?s=<session token>``;
4. in "launch+home" runs also ``GET /home?s=…`` (the page the person lands on) → 200.

The platform's JWKS is served over HTTP on loopback, so each gunicorn worker fetches it once, as in
production. Every run starts from a fresh database (a SQLite file, or with ``--postgres`` a throwaway
database on 127.0.0.1:5432 created and dropped here) migrated with Alembic and seeded with one
institution, one platform registration and a roster of ``--roster`` people (a fifth of them hold an
observing position). Every person has launched once before (a linked platform user), as in a running
term; ``--cold`` leaves that out, so that first launches (roster matching, the platform user's INSERT)
dominate a short run. Each launch picks a random roster person, so identity, personas and the platform
user's update run as in real use. With PostgreSQL, the CPU of its backends is reported too.

Load: ``C`` concurrent clients, each a thread keeping one HTTP/1.1 connection, spread over a few client
processes so that the client's own Python (GIL) does not become the bottleneck. Latency is the wall time
of the whole flow from the client's side (including the ~1 ms the simulated platform spends signing).
The client shares the machine's cores with the server: on a 2-core box that is part of the result.

Usage::

    .venv/bin/python bench/launch.py                      # SQLite, 1 and 20 clients, launch and launch+home
    .venv/bin/python bench/launch.py --postgres           # the same on PostgreSQL
    .venv/bin/python bench/launch.py --both --duration 15 # SQLite then PostgreSQL, one table
    .venv/bin/python bench/launch.py --profile            # also cProfile the launch path in-process
    .venv/bin/python bench/launch.py --tuned              # with bench/tuned.py's patches (BENCH_TUNED)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwcrypto.jwk import JWK

ROOT = Path(__file__).resolve().parent.parent  # Tingke is installed in .venv (scripts/setup.sh)
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
CLIENT_ID = "bench-client"
DEPLOYMENT_ID = "1"
OBSERVING_POSITIONS = [
    "school_leader",
    "college_dean",
    "college_party_head",
    "head_academic_affairs",
    "head_student_affairs",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the platform ------------------------------------------------------------------------------------------
class Platform:
    """The LMS side: an RSA key, its JWKS served over loopback, and id_token signing."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        jwk = JWK.from_pem(pem)
        self.public_jwk = json.loads(jwk.export_public()) | {
            "kid": jwk.thumbprint(),
            "alg": "RS256",
            "use": "sig",
        }
        self.kid = self.public_jwk["kid"]
        self.pem = pem
        self.jwks_fetches = 0
        body = json.dumps({"keys": [self.public_jwk]}).encode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.jwks_fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def issuer(self) -> str:
        return self.base

    def stop(self) -> None:
        self.server.shutdown()


# -- database ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database(postgres: bool, workdir: Path) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    if not postgres:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    admin_url = os.environ.get(
        "BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"tingke_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Seeded:
    people: list[tuple[str, str, str]]  # (employee_no, name, email)


def seed(
    database_url: str, base_url: str, platform: Platform, roster: int, workdir: Path, cold: bool = False
) -> Seeded:
    """Migrate, then one institution, the tool key, the platform registration and the roster.

    Unless ``cold``, every person has launched once before (a ``platform_user`` row linked to them, with
    the name, e-mail and roles the clients send), as in a running term where first launches are rare. Cold,
    most launches of a short run are first launches (roster matching and an INSERT), and how many depends
    on the run's rate: that made CPU per launch incomparable between fast and slow rows.
    """
    from lti_tool.config import Settings
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.directory.models import Person, PositionHolding, Unit
    from lti_tool.lti.keys import KeyService
    from lti_tool.lti.registration import PlatformSpec, RegistrationService
    from lti_tool.migrate import upgrade
    from lti_tool.policy.store import PolicyStore
    from lti_tool.tenancy import Institution

    upgrade(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    settings = Settings(
        instance_path=workdir,
        database_url=database_url,
        redis_url="redis://127.0.0.1:1/0",
        secret_key="bench",
        base_url=base_url,
    )
    people: list[tuple[str, str, str]] = []
    rng = random.Random(7)
    with factory.begin() as s:
        inst = Institution(code="BENCH", name="基准测试学院")
        s.add(inst)
        s.flush()
        PolicyStore(s, inst.id).ensure_version()
        KeyService(s).ensure_key()
        units = [
            Unit(institution_id=inst.id, code=f"U{i}", name=f"第{i}学院", kind="college") for i in range(12)
        ]
        s.add_all(units)
        s.flush()
        for i in range(roster):
            no = f"{10000 + i}"
            person = Person(
                institution_id=inst.id,
                employee_no=no,
                name=f"教师{i}",
                email=f"t{i}@bench.edu",
                unit_id=units[i % len(units)].id,
            )
            if i % 5 == 0:
                person.positions.append(
                    PositionHolding(institution_id=inst.id, position_code=rng.choice(OBSERVING_POSITIONS))
                )
            s.add(person)
            people.append((no, person.name, person.email or ""))
    with factory.begin() as s:
        RegistrationService(s, settings).add_platform(
            "BENCH",
            PlatformSpec(
                issuer=platform.issuer,
                client_id=CLIENT_ID,
                deployment_ids=[DEPLOYMENT_ID],
                auth_login_url=f"{platform.base}/auth",
                auth_token_url=f"{platform.base}/token",
                key_set_url=f"{platform.base}/jwks",
                name="Bench LMS",
            ),
        )
    if not cold:
        from sqlalchemy import insert, select

        from lti_tool.db import utcnow
        from lti_tool.directory.models import PlatformUser
        from lti_tool.lti.models import Platform as PlatformRow

        with factory.begin() as s:
            platform_id = s.scalar(select(PlatformRow.id).where(PlatformRow.issuer == platform.issuer))
            ids = {no: pid for no, pid in s.execute(select(Person.employee_no, Person.id))}
            s.execute(
                insert(PlatformUser),
                [
                    {
                        "institution_id": inst.id,
                        "platform_id": platform_id,
                        "lti_user_id": f"lms-{no}",
                        "person_id": ids[no],
                        "name": name,
                        "email": email,
                        "sourcedid": no,
                        "roles": ROLE_INSTRUCTOR,
                        "last_launch_at": utcnow(),
                    }
                    for no, name, email in people
                ],
            )
    engine.dispose()
    return Seeded(people)


# -- the server --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def gunicorn(
    database_url: str,
    port: int,
    workdir: Path,
    workers: int,
    worker_class: str,
    threads: int,
    app: str = "lti_tool.wsgi:app",
    config: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """gunicorn on ``port``; with ``config`` (deploy/gunicorn.conf.py) its settings, the workers and threads
    passed to it through the environment as in production (TINGKE_WEB_WORKERS, TINGKE_WEB_THREADS)."""
    env = dict(
        os.environ,
        TINGKE_DATABASE_URL=database_url,
        TINGKE_SECRET_KEY="bench-secret",
        TINGKE_BASE_URL=f"http://127.0.0.1:{port}",
        TINGKE_INSTANCE_PATH=str(workdir / "instance"),
        TINGKE_REDIS_URL="redis://127.0.0.1:1/0",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra_env or {})
    cmd = [str(Path(sys.executable).parent / "gunicorn")]
    if config is not None:
        env.update(
            TINGKE_BIND=f"127.0.0.1:{port}", TINGKE_WEB_WORKERS=str(workers), TINGKE_WEB_THREADS=str(threads)
        )
        cmd += ["--config", str(config), "--backlog", "2048"]
    else:
        cmd += [
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--log-level",
            "warning",
            "--backlog",
            "256",
        ]
        if worker_class == "gthread":
            cmd += ["--threads", str(threads)]
    cmd.append(app)
    # Compile the catalogs once here: each worker's create_app() compiles stale .mo files itself, and two
    # workers doing it at once race on the same temporary file (reported to the lead: lti_tool/i18n.py).
    from lti_tool.i18n import ensure_compiled

    ensure_compiled()
    log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    try:
        deadline = time.monotonic() + 120  # a busy machine boots two workers slowly
        while True:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + (workdir / "gunicorn.log").read_text())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/.well-known/jwks.json")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + (workdir / "gunicorn.log").read_text())
            time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# -- the clients -------------------------------------------------------------------------------------------
class FlowError(Exception):
    pass


class ServerClosed(Exception):
    """The server closed a kept-alive connection before answering: the request may be sent again."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    """The headers the flow reads (``_HEADERS``), lower-cased, each with its first value (Set-Cookie: the
    first cookie, as http.client's ``getheader(…).split(";")[0]`` took it)."""
    close: bool
    """The server closes the connection after this response."""


def http_request(
    method: str, target: str, host: str, headers: tuple[tuple[str, str], ...] = (), body: bytes = b""
) -> bytes:
    """The bytes http.client sends for this request: request line, Host, Accept-Encoding, Content-Length
    (POST), the given headers, then the body, so that the server parses what it parsed before."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_HEADERS = re.compile(r"\r\n(content-length|connection|location|set-cookie):([^\r]*)", re.IGNORECASE)


def _recv_more(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise FlowError("connection closed inside a response")
    return data


class Connection:
    """A minimal HTTP/1.1 keep-alive client over one socket, instead of http.client (see ``Client``).

    A request is one ``sendall`` of prepared bytes (as http.client sends a small body, so that Nagle's
    algorithm and delayed ACKs do not meet); a response is read up to its head, then by Content-Length.
    Every response of Tingke's login, launch and home carries one (Flask sets it, gunicorn keeps it); one
    without it is counted as an error rather than guessed at.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, request: bytes) -> Response:
        """Send ``request`` and read its response. A kept-alive connection the server closed meanwhile
        (gunicorn's keep-alive timeout) is reopened once and the request sent again."""
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port))
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # A blocking socket with the kernel's receive timeout: a Python timeout would add a poll()
                # before every recv and send. A server silent for 30 s fails the flow (BlockingIOError).
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 30, 0))
            try:
                response = self._exchange(self.sock, request)
            except (ServerClosed, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            except Exception:
                self.close()  # stopped inside a response: what the connection holds next is unknown
                raise
            if response.close:
                self.close()
            return response
        raise AssertionError("unreachable")

    @staticmethod
    def _exchange(sock: socket.socket, request: bytes) -> Response:
        sock.sendall(request)
        data = sock.recv(65536)
        if not data:
            raise ServerClosed("the server closed the connection without answering")
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += _recv_more(sock)
        head = data[:end].decode("latin-1")
        version, status = head.split(" ", 2)[:2]
        headers: dict[str, str] = {}
        for name, value in _HEADERS.findall(head):
            headers.setdefault(name.lower(), value.strip())
        if "content-length" not in headers:
            raise FlowError(f"response {status} without Content-Length")
        length = int(headers["content-length"])
        body = data[end + 4 :]
        while len(body) < length:
            body += _recv_more(sock)
        if len(body) > length:
            raise FlowError(f"response {status} longer than its Content-Length")
        close = version != "HTTP/1.1" or headers.get("connection", "").lower() == "close"
        return Response(int(status), headers, close)


def form_fields(url: str, *names: str) -> dict[str, str]:
    """The named fields of ``url``'s query, decoded as ``parse_qsl`` decodes them (the last of repeated
    names; a blank one is missing), but only those: the login's redirect carries ten, the flow needs two."""
    fields = dict(pair.partition("=")[::2] for pair in url.partition("#")[0].partition("?")[2].split("&"))
    return {name: unquote_plus(fields[name]) for name in names if fields.get(name)}


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def fixed_claims(issuer: str, base: str) -> dict[str, Any]:
    """The id_token claims all launches of a run share."""
    return {
        "iss": issuer,
        "aud": CLIENT_ID,
        LTI + "message_type": "LtiResourceLinkRequest",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": DEPLOYMENT_ID,
        LTI + "target_link_uri": f"{base}/lti/launch",
        LTI + "roles": [ROLE_INSTRUCTOR],
        LTI + "resource_link": {"id": "link-1", "title": "听课"},
        LTI + "context": {"id": "course-1", "label": "C1", "title": "课程一"},
        LTI + "launch_presentation": {"locale": "zh_CN", "document_target": "iframe"},
    }


def person_claims(no: str, name: str, email: str) -> dict[str, Any]:
    """The id_token claims that name the person launching."""
    return {"sub": f"lms-{no}", "name": name, "email": email, LTI + "lis": {"person_sourcedid": no}}


def _json_members(claims: dict[str, Any]) -> str:
    """``claims`` as JSON object members (no braces), encoded as PyJWT encodes a payload."""
    return json.dumps(claims, separators=(",", ":"))[1:-1]


class IdTokenSigner:
    """The platform's id_token, as ``jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})``
    makes it, with everything but the nonce and the times serialized once (see ``Client``).

    The RSA signature, the platform's real work, is still made per launch: the nonce comes from the login.
    ``prepare`` checks a token with PyJWT before every run.
    """

    _padding = padding.PKCS1v15()
    _hash = hashes.SHA256()

    def __init__(self, key: rsa.RSAPrivateKey, kid: str, fixed: dict[str, Any]) -> None:
        self.key = key  # loaded once by the parent: parsing a PEM costs ~45 ms of OpenSSL key checks
        header = json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}, separators=(",", ":"))
        self.header = _b64url(header.encode()) + b"."
        self.fixed = _json_members(fixed)

    def sign(self, person: str, nonce: str, now: int) -> bytes:
        """The token for ``person`` (its claims as from ``_json_members``), issued ``now``."""
        payload = f'{{"iat":{now},"exp":{now + 300},"nonce":{json.dumps(nonce)},{person},{self.fixed}}}'
        signing_input = self.header + _b64url(payload.encode())
        return signing_input + b"." + _b64url(self.key.sign(signing_input, self._padding, self._hash))


@dataclass
class Prepared:
    """What every launch of a run can build in advance, once, in the parent (the client processes fork)."""

    host: str
    signer: IdTokenSigner
    people: list[tuple[bytes, str]]
    """Per person: the bytes of the login request, and the person's claims (``_json_members``)."""


FORM = ("Content-Type", "application/x-www-form-urlencoded")


def prepare(port: int, platform: Platform, people: list[tuple[str, str, str]]) -> Prepared:
    """The requests and token parts of a run, after checking that a token decodes with PyJWT, against
    the platform's public key, to exactly the claims the launch sends."""
    host, base = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    signer = IdTokenSigner(platform.private, platform.kid, fixed_claims(platform.issuer, base))
    prepared: list[tuple[bytes, str]] = []
    for no, name, email in people:
        form = {
            "iss": platform.issuer,
            "login_hint": f"lms-{no}",
            "client_id": CLIENT_ID,
            "target_link_uri": f"{base}/lti/launch",
            "lti_message_hint": "resource",
            "lti_deployment_id": DEPLOYMENT_ID,
        }
        prepared.append(
            (
                http_request("POST", "/lti/login", host, (FORM,), urlencode(form).encode()),
                _json_members(person_claims(no, name, email)),
            )
        )
    no, name, email = people[0]
    now = int(time.time())
    token = signer.sign(prepared[0][1], "check-nonce", now)
    expected = (
        {"iat": now, "exp": now + 300, "nonce": "check-nonce"}
        | person_claims(no, name, email)
        | fixed_claims(platform.issuer, base)
    )
    decoded = jwt.decode(token, platform.private.public_key(), algorithms=["RS256"], audience=CLIENT_ID)
    header = jwt.get_unverified_header(token)
    if decoded != expected or header != {"alg": "RS256", "kid": platform.kid, "typ": "JWT"}:
        raise RuntimeError(f"the hand-built id_token differs from PyJWT's: {header} {decoded}")
    return Prepared(host, signer, prepared)


class Client:
    """One simulated browser: a kept-alive connection, running login → sign → launch (→ home).

    The client shares the cores with the server, so its CPU per launch is taken from the server's. With
    http.client, urllib's parsing and PyJWT it spent about 3.1 ms per launch, 1.3–1.5 ms of them in the RSA
    signature; with prepared requests (``prepare``), ``Connection`` and ``IdTokenSigner`` about 1.9 ms. What
    is left besides the signature is mostly system calls and caches gone cold while waiting for the server.
    """

    def __init__(self, port: int, prepared: Prepared, with_home: bool, seed: int) -> None:
        self.conn = Connection(port)
        self.prepared = prepared
        self.with_home = with_home
        self.rng = random.Random(seed)

    def launch(self) -> None:
        login, person = self.rng.choice(self.prepared.people)
        r = self.conn.exchange(login)
        if r.status != 302:
            raise FlowError(f"login {r.status}")
        query = form_fields(r.headers.get("location", ""), "state", "nonce")
        cookie = r.headers.get("set-cookie", "").split(";", 1)[0]
        if not cookie.startswith("lti1p3-state-"):
            raise FlowError("login set no state cookie")
        token = self.prepared.signer.sign(person, query["nonce"], int(time.time()))
        body = b"id_token=" + token + b"&state=" + quote_plus(query["state"]).encode()
        r = self.conn.exchange(
            http_request("POST", "/lti/launch", self.prepared.host, (FORM, ("Cookie", cookie)), body)
        )
        if r.status != 303:
            raise FlowError(f"launch {r.status}")
        location = r.headers.get("location", "")
        if "s=" not in location:
            raise FlowError("launch redirect carries no session token")
        if self.with_home:
            parts = urlsplit(location)
            r = self.conn.exchange(http_request("GET", f"{parts.path}?{parts.query}", self.prepared.host))
            if r.status != 200:
                raise FlowError(f"home {r.status}")


@dataclass
class RunSpec:
    port: int
    prepared: Prepared
    with_home: bool
    threads: int
    warmup: float
    duration: float
    seed: int
    interval: float = 0.0
    """Seconds between one client's launches (open loop, ``--rate``); 0 = back to back (closed loop)."""
    offset: float = 0.0


def _client_process(spec: RunSpec, start_at: float, out: Any) -> None:
    """``spec.threads`` clients; latencies of flows that *started* inside the measured window."""
    measure_from = start_at + spec.warmup
    stop_at = measure_from + spec.duration
    latencies: list[float] = []
    errors: list[str] = []
    flows = [0]
    lock = threading.Lock()
    cpu0 = time.process_time()

    def run(idx: int) -> None:
        client = Client(spec.port, spec.prepared, spec.with_home, spec.seed * 1000 + idx)
        mine: list[float] = []
        errs: list[str] = []
        done = 0
        time.sleep(max(0.0, start_at - time.time()))
        scheduled = start_at + spec.offset + idx * spec.interval / max(spec.threads, 1)
        while True:
            if spec.interval:
                # Open loop: launches are due on a fixed schedule; the latency of a late one counts from
                # when it was due, so a slow server cannot hide its queueing (no coordinated omission).
                time.sleep(max(0.0, scheduled - time.time()))
                t0 = scheduled
                scheduled += spec.interval
            else:
                t0 = time.time()
            if t0 >= stop_at:
                break
            try:
                client.launch()
                ok = True
            except Exception as exc:  # noqa: BLE001 - every failure counts as an error of the run
                ok = False
                err = f"{type(exc).__name__}: {exc}"
            t1 = time.time()
            done += 1
            if t0 >= measure_from:
                if ok:
                    mine.append(t1 - t0)
                else:
                    errs.append(err)
        with lock:
            latencies.extend(mine)
            errors.extend(errs)
            flows[0] += done

    threads = [threading.Thread(target=run, args=(i,)) for i in range(spec.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors, time.process_time() - cpu0, flows[0]))


def process_tree_cpu(root_pid: int) -> float:
    """User+system CPU seconds of a process and its children (gunicorn's master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def postgres_backends_cpu(db_name: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``db_name`` (its process title names the database).

    With PostgreSQL the database's own work runs in these processes, on the same cores, and gunicorn's CPU
    does not include it; SQLite's work is inside gunicorn's workers.
    """
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if f" {db_name} " not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return found


@dataclass
class Result:
    database: str
    mode: str
    concurrency: int
    launches: int
    duration: float
    latencies: list[float] = field(repr=False)
    errors: list[str] = field(repr=False)
    server_cpu: float = 0.0
    """CPU seconds gunicorn (master + workers) used in the measured window: load-independent cost."""
    load: float = 0.0
    """The 1-minute load average when the row finished (other work on the machine skews the rates)."""
    client_cpu_ms: float = 0.0
    """CPU milliseconds the simulated browsers and platform spent per flow (signing included)."""
    db_cpu: float | None = None
    """CPU seconds of the PostgreSQL backends serving the bench database (None for SQLite)."""

    @property
    def db_cpu_ms(self) -> float | None:
        return self.db_cpu / self.launches * 1000 if self.db_cpu is not None and self.launches else None

    def line(self) -> str:
        return (
            f"{self.database:10} {self.mode:11} c={self.concurrency:<3} {self.rate:7.1f}/s  "
            f"p50 {self.pct(50):6.1f} ms  p95 {self.pct(95):6.1f} ms  errors {len(self.errors)}  "
            f"server CPU {self.cpu_ms:.2f} ms/launch  "
            + (f"PostgreSQL CPU {self.db_cpu_ms:.2f} ms  " if self.db_cpu_ms is not None else "")
            + f"client CPU {self.client_cpu_ms:.2f} ms  load {self.load:.1f}"
        )

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.launches * 1000 if self.launches else float("nan")

    @property
    def rate(self) -> float:
        return self.launches / self.duration

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000


def run_load(
    port: int,
    server_pid: int,
    platform: Platform,
    people: list[tuple[str, str, str]],
    concurrency: int,
    with_home: bool,
    warmup: float,
    duration: float,
    database: str,
    spy_to: Path | None = None,
    rate: float = 0.0,
    db_name: str = "",
) -> Result:
    processes = max(1, min(concurrency, int(os.environ.get("BENCH_CLIENT_PROCESSES", "4"))))
    per = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    prepared = prepare(port, platform, people)
    start_at = time.time() + 0.5
    procs = []
    for i, n in enumerate(per):
        spec = RunSpec(
            port,
            prepared,
            with_home,
            n,
            warmup,
            duration,
            seed=i + 1,
            interval=concurrency / rate if rate else 0.0,
            offset=i * (concurrency / rate / processes if rate else 0.0),
        )
        p = ctx.Process(target=_client_process, args=(spec, start_at, out))
        p.start()
        procs.append(p)
    time.sleep(max(0.0, start_at + warmup - time.time()))
    cpu0 = process_tree_cpu(server_pid)
    db0 = postgres_backends_cpu(db_name) if db_name else {}
    spy = None
    if spy_to is not None:
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(server_pid),
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                "200",
                "--nonblocking",
                "--gil",
                "--duration",
                str(int(duration)),
                "--output",
                str(spy_to),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    time.sleep(max(0.0, start_at + warmup + duration - time.time()))
    server_cpu = process_tree_cpu(server_pid) - cpu0
    db_cpu = None
    if db_name:
        db1 = postgres_backends_cpu(db_name)
        db_cpu = sum(cpu - db0.get(pid, 0.0) for pid, cpu in db1.items())
    if spy is not None:
        spy.wait()
    latencies: list[float] = []
    errors: list[str] = []
    client_cpu, client_flows = 0.0, 0
    for _ in procs:
        lat, err, cpu, flows = out.get()
        latencies.extend(lat)
        errors.extend(err)
        client_cpu += cpu
        client_flows += flows
    for p in procs:
        p.join()
    return Result(
        database,
        "launch+home" if with_home else "launch",
        concurrency,
        len(latencies),
        duration,
        latencies,
        errors,
        server_cpu,
        os.getloadavg()[0],
        client_cpu / client_flows * 1000 if client_flows else float("nan"),
        db_cpu,
    )


# -- profile -----------------------------------------------------------------------------------------------
LIBRARY_FRAMES = (
    "sqlalchemy/orm/session",
    "sqlalchemy/engine/base",
    "jinja2/environment",
    "flask/app",
    "gunicorn/workers",
    "jwt/api_jwt",
    "pylti1p3/",
    "sqlite3",
    "psycopg/cursor",
    "itsdangerous",
)


def summarize_stacks(path: Path, top: int = 30) -> str:
    """Inclusive share of samples per frame of Tingke's code (and a few libraries) from py-spy's
    collapsed stacks: which parts of a request the workers' CPU goes to."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        seen: set[str] = set()
        for frame in stack.split(";"):
            name = frame.split(" (", 1)[0]
            where = frame.split(" (", 1)[1].rstrip(")") if " (" in frame else ""
            file = where.rsplit(":", 1)[0]
            if "lti_tool/" in file:
                key = f"{name} ({file.split('lti_tool/', 1)[1]})"
            elif any(lib in file for lib in LIBRARY_FRAMES):
                key = f"{name} ({file.rsplit('site-packages/', 1)[-1]})"
            else:
                continue
            if key not in seen:
                seen.add(key)
                inclusive[key] = inclusive.get(key, 0) + n
    if not total:
        return "    (no samples)"
    rows = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    return "\n".join(f"    {n / total * 100:5.1f}%  {key}" for key, n in rows)


def profile_in_process(
    database_url: str,
    base_url: str,
    platform: Platform,
    people: list[tuple[str, str, str]],
    workdir: Path,
    flows: int = 200,
) -> None:
    """Where a launch spends its time, measured in this process with the Flask test client:

    - the SQL statements each request runs (login, launch, home), after warm-up;
    - the median CPU milliseconds of each request (``time.process_time``: robust to other load);
    - a cProfile of each request on the *CPU* clock (``time.process_time``), so time spent waiting for
      PostgreSQL or for the SQLite lock does not show up as work: self time by package, then the
      cumulative time of Tingke's frames.
    """
    import cProfile
    import pstats

    from flask.testing import FlaskClient
    from sqlalchemy import event

    from lti_tool.app import create_app
    from lti_tool.config import Settings

    settings = Settings(
        instance_path=workdir / "instance-prof",
        database_url=database_url,
        redis_url="redis://127.0.0.1:1/0",
        secret_key="bench-secret",
        base_url=base_url,
    )
    app = create_app(settings)
    engine = app.extensions["tingke"].session_factory.kw["bind"]
    statements: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cur, stmt, *rest: statements.append(" ".join(stmt.split())[:110]),
    )
    key = platform.private
    rng = random.Random(3)
    profiling: dict[str, Any] = {"name": "", "profiler": None}

    def timed(name: str, call: Any, record: dict[str, list[float]] | None) -> Any:
        statements.clear()
        profiler = profiling["profiler"] if profiling["name"] == name else None
        if profiler:
            profiler.enable()
        t0 = time.process_time()
        response = call()
        cpu = time.process_time() - t0
        if profiler:
            profiler.disable()
        if record is not None:
            record.setdefault(name, []).append(cpu)
            record.setdefault(name + " statements", []).append(len(statements))
        return response

    def one(
        record: dict[str, list[float]] | None = None,
        show: bool = False,
        person: tuple[str, str, str] | None = None,
    ) -> None:
        no, name, email = person or rng.choice(people)
        sub = f"lms-{no}"
        client: FlaskClient = app.test_client()  # a fresh browser: no state cookies piling up in the jar
        r = timed(
            "login",
            lambda: client.post(
                "/lti/login",
                data={
                    "iss": platform.issuer,
                    "login_hint": sub,
                    "client_id": CLIENT_ID,
                    "target_link_uri": f"{base_url}/lti/launch",
                    "lti_deployment_id": DEPLOYMENT_ID,
                },
            ),
            record,
        )
        assert r.status_code == 302, r.get_data(as_text=True)
        if show:
            print("  login:\n" + "".join(f"    {st}\n" for st in statements))
        q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": platform.issuer,
                "aud": CLIENT_ID,
                "sub": sub,
                "iat": now,
                "exp": now + 300,
                "nonce": q["nonce"],
                "name": name,
                "email": email,
                LTI + "message_type": "LtiResourceLinkRequest",
                LTI + "version": "1.3.0",
                LTI + "deployment_id": DEPLOYMENT_ID,
                LTI + "target_link_uri": f"{base_url}/lti/launch",
                LTI + "roles": [ROLE_INSTRUCTOR],
                LTI + "resource_link": {"id": "link-1"},
                LTI + "lis": {"person_sourcedid": no},
            },
            key,
            algorithm="RS256",
            headers={"kid": platform.kid},
        )
        r = timed(
            "launch",
            lambda: client.post("/lti/launch", data={"id_token": token, "state": q["state"]}),
            record,
        )
        assert r.status_code == 303, r.get_data(as_text=True)
        if show:
            print("  launch:\n" + "".join(f"    {st}\n" for st in statements))
        location = r.headers["Location"]
        r = timed("home", lambda: client.get(location), record)
        assert r.status_code == 200
        if show:
            print("  home:\n" + "".join(f"    {st}\n" for st in statements))

    for person in people:
        one(person=person)  # warm caches (JWKS, templates, policy parse) and launch every person once:
        # what follows measures repeat launches, as in the load runs after their first seconds
    print("\nSQL statements per request (after warm-up, one launch of a known user):")
    one(show=True)
    record: dict[str, list[float]] = {}
    for _ in range(flows):
        one(record)
    print(f"Median per request over {flows} flows (in-process, test client, no profiler):")
    for name in ("login", "launch", "home"):
        print(
            f"  {name:7} {statistics.median(record[name]) * 1000:6.2f} ms CPU  "
            f"{statistics.median(record[name + ' statements']):.0f} statements"
        )
    for name in ("launch", "login", "home"):
        profiling.update(name=name, profiler=cProfile.Profile(time.process_time))
        for _ in range(flows // 2):
            one()
        stats = pstats.Stats(profiling["profiler"])
        raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # pstats' table, undeclared
        calls = sum(nc for (_cc, nc, _tt, _ct, _callers) in raw.values()) / (flows // 2)
        print(
            f"\ncProfile of {name} ({flows // 2} requests): {calls:,.0f} Python function calls per request "
            "(a load-independent measure of work); self time by package:"
        )
        print(self_time_by_package(stats))
        print(f"cProfile of {name}: cumulative, Tingke frames")
        stats.sort_stats("cumulative").print_stats(r"lti_tool|pylti1p3|jwt/|itsdangerous|jinja2/env", 25)


def self_time_by_package(stats: Any, top: int = 15) -> str:
    """cProfile self time grouped by top-level package (Tingke by domain): ORM vs. the rest."""
    totals: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        path = file.split("site-packages/")[-1]
        if "/lti_tool/" in file:
            key = "lti_tool." + file.split("/lti_tool/", 1)[1].split("/")[0].removesuffix(".py")
        elif path.startswith("~") or path.startswith("<"):
            key = "builtins: " + func.split(" of ")[0][:40]
        elif path.startswith("/"):
            key = "stdlib " + path.rsplit("/", 1)[-1].removesuffix(".py")
        else:
            key = path.split("/")[0].removesuffix(".py")
        totals[key] = totals.get(key, 0.0) + tottime
    grand = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return "\n".join(f"  {t / grand * 100:5.1f}%  {k}" for k, t in rows)


# -- main --------------------------------------------------------------------------------------------------
def bench_database(args: argparse.Namespace, postgres: bool) -> list[Result]:
    """Fresh database, seed, optional in-process profile, then every (flow, concurrency) row."""
    label = "PostgreSQL" if postgres else "SQLite"
    with tempfile.TemporaryDirectory(prefix="tingke-bench-") as tmp:
        workdir = Path(tmp)
        platform = Platform()
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        try:
            with fresh_database(postgres, workdir) as url:
                seeded = seed(url, base_url, platform, args.roster, workdir, cold=args.cold)
                if args.profile:
                    profile_in_process(url, base_url, platform, seeded.people, workdir)
                if args.profile_only:
                    return []
                app = "bench.tuned:create_app()" if args.tuned else "lti_tool.wsgi:app"
                with gunicorn(url, port, workdir, args.workers, args.worker_class, args.threads, app) as srv:
                    db_name = url.rsplit("/", 1)[1] if postgres else ""
                    results = [
                        run_row(args, label, port, srv.pid, platform, seeded.people, mode, c, db_name)
                        for mode in args.modes
                        for c in args.concurrency
                    ]
                log = (workdir / "gunicorn.log").read_text(errors="replace")
                if any(r.errors for r in results) and log.strip():
                    tail = "\n".join(log.splitlines()[-40:])
                    print(f"  gunicorn log (last 40 lines):\n{tail}", file=sys.stderr)
                print(f"  (JWKS fetched {platform.jwks_fetches}x by {args.workers} workers)", file=sys.stderr)
                return results
        finally:
            platform.stop()


def run_row(
    args: argparse.Namespace,
    label: str,
    port: int,
    server_pid: int,
    platform: Platform,
    people: list[tuple[str, str, str]],
    mode: str,
    concurrency: int,
    db_name: str = "",
) -> Result:
    spy_to = None
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        spy_to = args.py_spy / f"{label}-{mode}-c{concurrency}.txt".replace("+", "_")
    r = run_load(
        port,
        server_pid,
        platform,
        people,
        concurrency,
        mode == "launch+home",
        args.warmup,
        args.duration,
        label,
        spy_to,
        args.rate,
        db_name,
    )
    print("  " + r.line(), file=sys.stderr)
    if spy_to is not None and spy_to.exists():
        print(summarize_stacks(spy_to), file=sys.stderr)
    if r.errors:
        print("    first errors: " + "; ".join(sorted(set(r.errors))[:5]), file=sys.stderr)
    return r


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    cls = f"{args.worker_class}" + (f", {args.threads} threads" if args.worker_class == "gthread" else "")
    if args.tuned:
        from bench.tuned import wanted

        cls += ", with bench/tuned.py patches: " + (", ".join(sorted(wanted())) or "none")
    print(
        f"\nTingke login+launch on loopback: gunicorn {args.workers} workers ({cls}), "
        f"{os.cpu_count()} cores shared with the clients, {args.duration:.0f} s per row after "
        f"{args.warmup:.0f} s warm-up, roster {args.roster}, niceness {os.nice(0)}, "
        + (
            f"open loop at {args.rate:.0f} launches/s in total"
            if args.rate
            else "closed loop (each client launches again as soon as its last flow ended)"
        )
        + "\n"
    )
    print(
        "| database | flow | concurrency | launches/s | p50 ms | p95 ms | errors | server CPU ms/launch "
        "| PostgreSQL CPU ms/launch | client CPU ms/launch | load avg |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        db_ms = f"{r.db_cpu_ms:.2f}" if r.db_cpu_ms is not None else "–"
        print(
            f"| {r.database} | {r.mode} | {r.concurrency} | {r.rate:.0f} | {r.pct(50):.1f} "
            f"| {r.pct(95):.1f} | {len(r.errors)} | {r.cpu_ms:.2f} | {db_ms} | {r.client_cpu_ms:.2f} "
            f"| {r.load:.1f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    db = parser.add_mutually_exclusive_group()
    db.add_argument("--postgres", action="store_true", help="a throwaway database on 127.0.0.1:5432")
    db.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread)")
    parser.add_argument("--concurrency", default="1,20", help="comma-separated client counts")
    parser.add_argument("--modes", default="launch,launch+home")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="open loop: this many launches/s in total, spread over the clients "
        "(default 0: closed loop, each client launches again as soon as it can)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--roster", type=int, default=300)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="nobody has launched before (default: every roster person launched once)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="first print SQL per request, CPU per request and a cProfile, in-process",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the bench (server and clients) at this niceness, e.g. -10 on a machine "
        "shared with other jobs (negative values need root)",
    )
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="measure with the further proposals patched in (bench/tuned.py; pick them with "
        "BENCH_TUNED=nosession,mmap,writelock)",
    )
    parser.add_argument("--profile-only", action="store_true", help="--profile without the load runs")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample the gunicorn workers with py-spy during each row (threads holding "
        "the GIL only, so the shares are of CPU, not of waiting) "
        "(collapsed stacks in DIR)",
    )
    args = parser.parse_args(argv)
    args.profile = args.profile or args.profile_only
    if args.nice:
        os.nice(args.nice)  # inherited by gunicorn and the client processes
    if args.tuned:
        from bench.tuned import apply

        apply()  # for the in-process profile; gunicorn's workers apply it themselves
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    args.modes = [m for m in args.modes.split(",") if m]
    if not set(args.modes) <= {"launch", "launch+home"}:
        parser.error("--modes takes launch and/or launch+home")
    databases = [False, True] if args.both else [args.postgres]
    results: list[Result] = []
    for postgres in databases:
        results += bench_database(args, postgres)
    if results:
        print_table(results, args)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
