"""/healthz, /readyz, /metrics, JSON-line logs, the proxy hops and the shared instance secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from lti_tool.app import create_app
from lti_tool.config import Settings
from lti_tool.lti.models import InstanceSecret
from lti_tool.ops import observability
from lti_tool.reports.models import ReportRun
from tests.support.platform import LmsUser


@pytest.fixture
def make_app() -> Iterator[Callable[[Settings], Flask]]:
    """Apps built with other settings, their database connections closed at the end of the test."""
    apps: list[Flask] = []

    def make(settings: Settings) -> Flask:
        apps.append(create_app(settings))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["tingke"].session_factory.kw["bind"].dispose()


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_answers_without_touching_the_database(settings, database_url, make_app):  # type: ignore[no-untyped-def]
    broken = make_app(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    client = broken.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["database"]["ok"] is False
    assert "cannot connect to the database" in ready.json["checks"]["database"]["message"]


def test_readyz_checks_database_migrations_and_redis(client, app, settings, make_app):  # type: ignore[no-untyped-def]
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert set(ready.json["checks"]) == {"database", "migrations", "redis"}
    assert "(head)" in ready.json["checks"]["migrations"]["message"]
    assert ready.json["status"] == "ready"
    # without Redis the host still serves records: degraded, said so, not taken out of the balancer
    no_redis = make_app(replace(settings, redis_url="redis://127.0.0.1:1/0")).test_client().get("/readyz")
    assert no_redis.status_code == 200 and no_redis.json["status"] == "degraded"
    assert no_redis.json["checks"]["redis"]["ok"] is False
    assert "cannot reach Redis" in no_redis.json["checks"]["redis"]["message"]


def test_metrics_say_the_queue_is_down_instead_of_failing(settings, make_app):  # type: ignore[no-untyped-def]
    client = make_app(replace(settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    samples = _samples(scrape.get_data(as_text=True))
    assert samples[("tingke_queue_up", ())] == 0
    assert not any(name == "tingke_queue_jobs" for name, _labels in samples)


def test_readyz_refuses_a_schema_behind_the_code(settings, tmp_path, make_app):  # type: ignore[no-untyped-def]
    from lti_tool.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    old = make_app(replace(settings, database_url=url, secret_key="s" * 40)).test_client().get("/readyz")
    assert old.status_code == 503
    assert "run `tingke db upgrade`" in old.json["checks"]["migrations"]["message"]


def test_metrics_count_routes_launches_by_outcome_and_runs(
    client, launcher, platform, session_factory, institution_id
):  # type: ignore[no-untyped-def]
    before = _samples(client.get("/metrics").get_data(as_text=True))
    result = launcher.launch(
        LmsUser(
            "u1",
            name="Admin",
            roles=["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"],
        )
    )
    assert result.response.status_code == 303
    auth = launcher.login(LmsUser("u2"))
    refused = launcher.post_launch("not-a-jwt", auth["state"])
    assert refused.status_code == 400
    with session_factory.begin() as s:
        s.add(ReportRun(institution_id=institution_id, kind="statistics", status="failed"))
    body = client.get("/metrics").get_data(as_text=True)
    after = _samples(body)

    def delta(name, **labels):  # type: ignore[no-untyped-def]
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("tingke_lti_launches_total", outcome="accepted", reason="") == 1
    refusals = {
        k: v - before.get(k, 0)
        for k, v in after.items()
        if k[0] == "tingke_lti_launches_total" and ("outcome", "refused") in k[1]
    }
    assert sum(refusals.values()) == 1
    assert delta("tingke_http_requests_total", route="/lti/login", method="POST", status="302") == 2
    assert delta("tingke_http_request_duration_seconds_count", route="/lti/launch", method="POST") == 2
    assert after[("tingke_report_runs", (("kind", "statistics"), ("status", "failed")))] == 1
    assert any(k[0] == "tingke_workers" for k in after)
    assert after[("tingke_queue_up", ())] == 1


def test_metrics_token_when_configured(settings, make_app):  # type: ignore[no-untyped-def]
    client = make_app(replace(settings, metrics_token="t0ken")).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).status_code == 200


def test_json_logs_carry_request_id_route_status_and_duration(app, client, settings, monkeypatch):  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(observability, "_configured", False)
    level = root.level
    stream = io.StringIO()
    observability.configure_logging(replace(settings, log_format="json"), stream=stream)
    try:
        response = client.get("/lti/config", headers={"X-Request-ID": "abc-123"})
    finally:
        root.setLevel(level)
    assert response.headers["X-Request-ID"] == "abc-123"
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["logger"] == "tingke.request" and line["level"] == "INFO" and line["message"] == "request"
    assert line["request_id"] == "abc-123"
    assert line["route"] == "/lti/config" and line["status"] == 200 and line["method"] == "GET"
    assert isinstance(line["duration_ms"], float)
    assert "institution" in line and "actor" in line
    bad = client.get("/lti/config", headers={"X-Request-ID": "<script>"})
    assert bad.headers["X-Request-ID"] != "<script>" and len(bad.headers["X-Request-ID"]) == 32


def test_proxy_hops_trust_exactly_the_configured_proxies(settings, make_app):  # type: ignore[no-untyped-def]
    app = make_app(replace(settings, proxy_hops=1))
    seen = {}

    @app.get("/_probe_remote")
    def _probe():  # type: ignore[no-untyped-def]
        from flask import request

        seen.update(addr=request.remote_addr, scheme=request.scheme)
        return "ok"

    app.test_client().get(
        "/_probe_remote",
        headers={"X-Forwarded-For": "6.6.6.6, 10.0.0.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert seen == {"addr": "10.0.0.7", "scheme": "https"}  # the client's forged 6.6.6.6 is not believed
    plain = make_app(settings)
    plain.add_url_rule("/_probe_remote", view_func=_probe)
    plain.test_client().get(
        "/_probe_remote", headers={"X-Forwarded-For": "10.0.0.7"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert seen["addr"] == "127.0.0.1"


def test_the_instance_secret_is_shared_through_the_database(settings, session_factory, tmp_path, make_app):  # type: ignore[no-untyped-def]
    host_a = make_app(replace(settings, secret_key="", instance_path=tmp_path / "a"))
    host_b = make_app(replace(settings, secret_key="", instance_path=tmp_path / "b"))
    secret_a = host_a.extensions["tingke"].secret
    assert secret_a == host_b.extensions["tingke"].secret
    assert not (tmp_path / "a" / "secret_key").exists()
    with session_factory() as s:
        assert s.scalars(select(InstanceSecret.value)).one() == secret_a


def test_a_secret_kept_on_disk_moves_into_the_database(settings, session_factory, tmp_path, make_app):  # type: ignore[no-untyped-def]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "secret_key").write_text("legacy-secret-" + "x" * 40)
    app = make_app(replace(settings, secret_key="", instance_path=tmp_path / "old"))
    assert app.extensions["tingke"].secret == "legacy-secret-" + "x" * 40
    other = make_app(replace(settings, secret_key="", instance_path=tmp_path / "new"))
    assert other.extensions["tingke"].secret == "legacy-secret-" + "x" * 40
