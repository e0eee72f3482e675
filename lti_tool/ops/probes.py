"""``/healthz``, ``/readyz`` and ``/metrics``, answered before Flask: a probe never depends on what it
probes, and scrapes are not counted as requests (``/metrics`` is ``lti_tool/ops/metrics.py``).

``/healthz``: the process is alive and answering (no database, no Redis): a load balancer or systemd
watchdog restarts the process when it fails. ``/readyz``: this host can serve right now: the database
answers and its schema is at this code's migration head; 503 with the failing checks otherwise, so nginx
or an orchestrator sends traffic elsewhere. Redis unreachable answers 200 with ``"status": "degraded"``
and the failing check: records still save without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from lti_tool.config import Settings
from lti_tool.ops.checks import readiness

DEGRADING = frozenset({"redis"})
"""Checks whose failure leaves the host serving (``"degraded"``, 200): without Redis, records and contact
entries still save and only the pages that queue jobs answer 503 (issue 13 §6); every host shares the one
Redis, so taking hosts out of the balancer would only stop the saving too."""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Probes:
    def __init__(self, app: WSGIApp, settings: Settings, engine: Engine) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        self.factory = sessionmaker(bind=engine)
        self._redis: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return self._answer(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            findings = readiness(self.settings, self.engine)
            ready = all(f.ok for f in findings if f.name not in DEGRADING)
            degraded = ready and not all(f.ok for f in findings)
            body = {
                "status": "degraded" if degraded else "ready" if ready else "not ready",
                "checks": {f.name: f.as_dict() for f in findings},
            }
            return self._answer(start_response, 200 if ready else 503, body)
        if path == "/metrics":
            return self._metrics(environ, start_response)
        return self.app(environ, start_response)

    def _metrics(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        from prometheus_client import CONTENT_TYPE_LATEST

        from lti_tool.ops import metrics

        if not metrics.authorised(self.settings, environ.get("HTTP_AUTHORIZATION", "")):
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]
        if self._redis is None:
            from redis import Redis

            self._redis = Redis.from_url(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        data = metrics.render(self.settings, self.factory, self._redis)
        start_response(
            "200 OK",
            [
                ("Content-Type", CONTENT_TYPE_LATEST),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [data]

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> list[bytes]:
        data = json.dumps(body, ensure_ascii=False).encode()
        reason = {200: "OK", 503: "Service Unavailable"}[status]
        start_response(
            f"{status} {reason}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [data]
