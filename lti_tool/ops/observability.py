"""Request ids, request metrics and JSON-line logs, for every request of the web app.

Metrics use ``prometheus_client``. Under gunicorn (several processes) ``PROMETHEUS_MULTIPROC_DIR`` must be
set before the app is imported: each process then writes its samples to that folder and ``/metrics``
sums them (deploy/gunicorn.conf.py removes a dead worker's live gauges). Logs use ``python-json-logger``,
a formatter for the standard ``logging`` module: the module loggers every service already has emit JSON
lines with no change at the call sites, and each line inside a request carries its request id,
institution and actor.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import IO

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import Counter, Histogram

from lti_tool.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LAUNCH_ENDPOINTS = frozenset({"lti.launch"})

REQUESTS = Counter(
    "tingke_http_requests_total",
    "HTTP requests answered, by route, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "tingke_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LAUNCHES = Counter(
    "tingke_lti_launches_total",
    "LTI launches: accepted, or refused with the reason shown to the person",
    ["outcome", "reason"],
)

request_log = logging.getLogger("tingke.request")


class RequestContextFilter(logging.Filter):
    """Adds the request id, institution and actor to every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            actor = g.get("actor")
            record.request_id = g.get("request_id", "")
            if not hasattr(record, "institution"):
                record.institution = actor.institution_id if actor is not None else None
            if not hasattr(record, "actor"):
                record.actor = actor.person_id if actor is not None else None
        return True


_configured = False


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """JSON lines on stderr when ``TINGKE_LOG_FORMAT=json``; otherwise leave logging to the host
    (gunicorn's, RQ's or the test runner's defaults). Once per process."""
    global _configured
    if _configured or settings.log_format != "json":
        return
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    _configured = True


def route_of_request() -> str:
    """The matched URL rule (``/observations/<int:observation_id>``), never the raw path: a bounded label."""
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def init_observability(app: Flask, settings: Settings) -> None:
    configure_logging(settings)

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:
            return response
        duration = time.perf_counter() - started
        route = route_of_request()
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        LATENCY.labels(route, request.method).observe(duration)
        if request.endpoint in LAUNCH_ENDPOINTS and request.method == "POST":
            if response.status_code < 400:
                LAUNCHES.labels("accepted", "").inc()
            else:
                LAUNCHES.labels("refused", g.get("error_reason") or f"HTTP {response.status_code}").inc()
        response.headers[REQUEST_ID_HEADER] = g.request_id
        if request_log.isEnabledFor(logging.INFO):
            actor = g.get("actor")
            request_log.info(
                "request",
                extra={
                    "institution": actor.institution_id if actor is not None else None,
                    "actor": actor.person_id if actor is not None else None,
                    "route": route,
                    "method": request.method,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
        return response
