"""deploy/ stays in step with the code: every setting is in the env example and README, nginx's body limit
is Tingke's, the units start what exists."""

from __future__ import annotations

import re

from lti_tool import PROJECT_ROOT
from lti_tool.app import MAX_UPLOAD_BYTES

DEPLOY = PROJECT_ROOT / "deploy"


def _settings_read_from_env() -> set[str]:
    source = (PROJECT_ROOT / "lti_tool" / "config.py").read_text()
    return set(re.findall(r'_env\("(TINGKE_[A-Z_]+)"', source))


def test_every_setting_is_in_the_env_example_and_readme():  # type: ignore[no-untyped-def]
    names = _settings_read_from_env()
    assert {"TINGKE_DATABASE_URL", "TINGKE_PROXY_HOPS", "TINGKE_LOG_FORMAT"} <= names
    gunicorn = set(re.findall(r'environ\.get\("(TINGKE_[A-Z_]+)"', (DEPLOY / "gunicorn.conf.py").read_text()))
    example = set(
        re.findall(
            r"^(TINGKE_[A-Z_]+|PROMETHEUS_MULTIPROC_DIR)=", (DEPLOY / "tingke.env.example").read_text(), re.M
        )
    )
    readme = (PROJECT_ROOT / "README.md").read_text()
    development_only = {"TINGKE_DEMO_LMS_URL"}  # scripts/run.sh's demo LMS, never set in production
    assert (names - development_only) | gunicorn | {"PROMETHEUS_MULTIPROC_DIR"} == example
    for name in names | gunicorn:
        assert f"`{name}`" in readme, name


def test_nginx_body_limit_matches_the_app():  # type: ignore[no-untyped-def]
    conf = (DEPLOY / "nginx" / "tingke.conf").read_text()
    limit = re.search(r"client_max_body_size (\d+)m;", conf)
    assert limit and int(limit.group(1)) * 1024 * 1024 == MAX_UPLOAD_BYTES
    assert "X-Forwarded-Proto" in conf and "X-Request-ID" in conf
    assert "$request_uri" not in conf.split("log_format", 1)[1].split(";", 1)[0]  # no tokens in the log


def test_units_run_the_installed_commands():  # type: ignore[no-untyped-def]
    units = {p.name: p.read_text() for p in (DEPLOY / "systemd").glob("*.service")}
    assert set(units) == {"tingke-web.service", "tingke-worker@.service", "tingke-scheduler.service"}
    assert (
        "gunicorn --config /opt/tingke/deploy/gunicorn.conf.py lti_tool.wsgi:app"
        in units["tingke-web.service"]
    )
    assert "tingke worker --without-scheduler" in units["tingke-worker@.service"]
    assert "tingke worker --with-scheduler" in units["tingke-scheduler.service"]
    for text in units.values():
        assert "EnvironmentFile=/etc/tingke/tingke.env" in text
