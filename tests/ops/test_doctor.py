"""``tingke check`` on misconfigured instances: each fault is named in plain words; a sound one passes."""

from __future__ import annotations

import pytest

from lti_tool.migrate import upgrade
from lti_tool.ops import checks
from tests.support.cli import cli_runner


@pytest.fixture
def env(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    def make(database_url: str, **variables: str):  # type: ignore[no-untyped-def]
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return cli_runner(monkeypatch, database_url, tmp_path / "instance")

    return make


def _lines(output: str) -> dict[str, str]:
    return {line.split(":", 1)[0][5:]: line for line in output.splitlines() if line[:4] in ("ok  ", "FAIL")}


def test_a_misconfigured_instance_is_told_each_fault(env, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")  # the code moved on, the schema did not
    monkeypatch.setattr(checks, "PDF_FONTS", ("Noto Sans CJK SC", "Fangsong Official GB2312"))
    run = env(
        url,
        TINGKE_ENV="production",
        TINGKE_BASE_URL="http://tingke.example.edu",
        TINGKE_REDIS_URL="redis://127.0.0.1:1/0",
    )
    result = run("check")
    assert result.exit_code == 1
    lines = _lines(result.output)
    assert lines["base url"].startswith("FAIL") and "must be https" in lines["base url"]
    assert lines["migrations"].startswith("FAIL") and "0004" in lines["migrations"]
    assert "run `tingke db upgrade`" in lines["migrations"]
    assert lines["redis"].startswith("FAIL") and "cannot reach Redis" in lines["redis"]
    assert lines["fonts"].startswith("FAIL") and "Fangsong Official GB2312" in lines["fonts"]
    assert lines["database"].startswith("ok")
    assert "4 problem(s) found" in result.output


def test_production_behind_a_proxy_needs_hops_and_a_real_host(env, tmp_path, redis_url):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'new.db'}"
    run = env(url, TINGKE_ENV="production", TINGKE_BASE_URL="https://localhost", TINGKE_REDIS_URL=redis_url)
    assert "cannot reach localhost" in _lines(run("check").output)["base url"]
    run = env(url, TINGKE_BASE_URL="https://tingke.example.edu", TINGKE_PROXY_HOPS="0")
    assert "TINGKE_PROXY_HOPS is 0" in _lines(run("check").output)["base url"]


def test_no_schema_no_keys_short_secret(env, tmp_path, redis_url):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    run = env(url, TINGKE_REDIS_URL=redis_url)
    lines = _lines(run("check").output)
    assert "no schema yet" in lines["migrations"]
    upgrade(url)
    run = env(url, TINGKE_SECRET_KEY="short")
    result = run("check")
    lines = _lines(result.output)
    assert lines["signing keys"].startswith("FAIL") and "no signing key" in lines["signing keys"]
    assert lines["secret"].startswith("FAIL") and "shorter than 32" in lines["secret"]
    assert result.exit_code == 1


def test_a_sound_instance_passes(env, tmp_path, redis_url):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'good.db'}"
    run = env(
        url,
        TINGKE_ENV="production",
        TINGKE_BASE_URL="https://tingke.example.edu",
        TINGKE_PROXY_HOPS="1",
        TINGKE_REDIS_URL=redis_url,
        TINGKE_SECRET_KEY="k" * 64,
    )
    assert run("init").exit_code == 0
    result = run("check")
    assert result.exit_code == 0, result.output
    assert set(_lines(result.output)) == {
        "base url",
        "database",
        "migrations",
        "signing keys",
        "secret",
        "redis",
        "pdf engine",
        "fonts",
    }
    assert "Everything Tingke needs is in place." in result.output


@pytest.fixture
def redis_url(settings) -> str:  # type: ignore[no-untyped-def]
    return settings.redis_url
