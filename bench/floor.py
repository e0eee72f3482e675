"""Benchmark: the floor under bench/launch.py, i.e. what a launch costs on this machine before Tingke's code.

A launch is two HTTP requests (login, launch) served by gunicorn and Flask, plus the platform's RS256
signature of the id_token. This script measures those parts alone, so that launch.py's numbers can be read
against what the fixed stack (Python, gunicorn, Flask) allows on the same cores:

- the platform's RS256 signature and the tool's verification of it (cryptography/OpenSSL, in-process);
- server CPU per request of a WSGI app that does nothing, under gunicorn gthread 2 × 4 on loopback;
- the same for a bare Flask app shaped like Tingke's login: parse the posted form, answer a redirect that
  sets a partitioned cookie — no database, no LTI.

The load is launch.py's client (its ``Connection``): 20 kept-alive clients in 4 processes posting a form
of 1.6 KB (an id_token's size). From those, the upper bound on launches per second with *no* Tingke code
at all: 2 cores × 1000 ms ÷ (2 × Flask's request + 2 × the client's request + the signature), and by
Little's law the throughput a closed loop of 20 clients needs for a mean latency of 50 ms (issue 2's p95
target).

Usage::

    .venv/bin/python -m bench.floor               # 5 s per server (a module: it reuses bench/launch.py)
    .venv/bin/python -m bench.floor --duration 10
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file (python bench/X.py): bench/ is on the path, the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.launch import Connection, free_port, http_request, process_tree_cpu

ROOT = Path(__file__).resolve().parent.parent

FORM_BODY = "id_token=" + "x" * 1600 + "&state=" + "s" * 43
CLIENT_PROCESSES = 4
CLIENTS = 20


def raw_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """WSGI with no framework: read the body, answer a redirect."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response(
        "302 Found", [("Location", "http://127.0.0.1/auth?state=s&nonce=n"), ("Content-Length", "0")]
    )
    return [b""]


def _flask_app() -> Any:
    from flask import Flask, redirect, request

    app = Flask("floor")

    @app.route("/lti/login", methods=["POST"])
    def login():  # type: ignore[no-untyped-def]
        params = {k: v for k, v in request.form.items()}
        response = redirect(f"http://127.0.0.1/auth?state={len(params)}&nonce=n", code=302)
        response.set_cookie(
            "lti1p3-state",
            "s",
            max_age=600,
            secure=True,
            httponly=True,
            samesite="None",
            partitioned=True,
            path="/lti/",
        )
        return response

    return app


flask_app = _flask_app()


def _post_loop(port: int, threads: int, seconds: float, out: Any) -> None:
    done = [0]
    lock = threading.Lock()
    cpu0 = time.process_time()

    request = http_request(
        "POST",
        "/lti/login",
        f"127.0.0.1:{port}",
        (("Content-Type", "application/x-www-form-urlencoded"),),
        FORM_BODY.encode(),
    )

    def run() -> None:
        conn = Connection(port)  # launch.py's client, so that the client column compares
        n = 0
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            status = conn.exchange(request).status
            if status != 302:
                raise RuntimeError(f"unexpected status {status}")
            n += 1
        with lock:
            done[0] += n

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    out.put((done[0], time.process_time() - cpu0))


def measure_server(app: str, seconds: float) -> tuple[float, float, float]:
    """(requests/s, server CPU ms/request, client CPU ms/request) of ``app`` under gunicorn gthread 2 × 4."""
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--log-level",
        "warning",
        app,
    ]
    proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(ROOT))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("POST", "/lti/login", body=FORM_BODY)
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        cpu0 = process_tree_cpu(proc.pid)
        start = time.monotonic()
        clients = [
            ctx.Process(target=_post_loop, args=(port, CLIENTS // CLIENT_PROCESSES, seconds, queue))
            for _ in range(CLIENT_PROCESSES)
        ]
        for c in clients:
            c.start()
        results = [queue.get() for _ in clients]
        for c in clients:
            c.join()
        elapsed = time.monotonic() - start
        server_cpu = process_tree_cpu(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    requests = sum(n for n, _cpu in results)
    client_cpu = sum(cpu for _n, cpu in results)
    return requests / elapsed, server_cpu * 1000 / requests, client_cpu * 1000 / requests


def rs256_costs(rounds: int = 300) -> tuple[float, float]:
    """Median ms of one RS256 signature (the platform's) and one verification (the tool's), 2048-bit key."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "iss": "https://lms.example",
        "aud": "client",
        "sub": "user",
        "nonce": "n" * 40,
        "https://purl.imsglobal.org/spec/lti/claim/custom": {"x": "y" * 600},
    }
    signs, verifies = [], []
    for _ in range(rounds):
        t0 = time.process_time()
        token = jwt.encode(claims, key, algorithm="RS256")
        t1 = time.process_time()
        jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="client")
        t2 = time.process_time()
        signs.append(t1 - t0)
        verifies.append(t2 - t1)
    return statistics.median(signs) * 1000, statistics.median(verifies) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per server")
    args = parser.parse_args(argv)
    sign_ms, verify_ms = rs256_costs()
    rows = [
        ("WSGI app doing nothing", "bench.floor:raw_app"),
        ("bare Flask: form → redirect + cookie", "bench.floor:flask_app"),
    ]
    measured = [(label, *measure_server(app, args.duration)) for label, app in rows]
    print(
        f"\nThe stack's floor on this machine ({os.cpu_count()} cores), gunicorn gthread 2 × 4, "
        f"{CLIENTS} kept-alive clients, {args.duration:g} s each\n"
    )
    print("| what | requests/s | server CPU ms/request | client CPU ms/request |")
    print("|---|---:|---:|---:|")
    for label, rate, server_ms, client_ms in measured:
        print(f"| {label} | {rate:.0f} | {server_ms:.2f} | {client_ms:.2f} |")
    print(f"| RS256 signature (the platform, per launch) | | | {sign_ms:.2f} |")
    print(f"| RS256 verification (the tool, per launch) | | {verify_ms:.2f} | |")
    _label, _rate, flask_ms, client_ms = measured[1]
    floor_ms = 2 * flask_ms + 2 * client_ms + sign_ms
    cores = os.cpu_count() or 1
    print(
        f"\nA launch with no Tingke code (2 × Flask request + 2 × client request + signature): "
        f"{floor_ms:.2f} ms of CPU → at most {cores * 1000 / floor_ms:.0f} launches/s on {cores} cores."
    )
    print(
        f"Closed loop of {CLIENTS} clients, mean latency 50 ms (Little's law): needs "
        f"{CLIENTS / 0.050:.0f} launches/s, i.e. ≤ {cores * 1000 / (CLIENTS / 0.050):.2f} ms of CPU per "
        "launch for server and client together."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
