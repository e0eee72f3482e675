"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL via TINGKE_TEST_DATABASE_URL),
the app served on a real loopback port, a platform simulator registered with it, and launch helpers.

Each test starts from empty tables (rows are deleted after each test), so functional tests can commit
through real requests. Network access beyond 127.0.0.1 fails the test.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from lti_tool.app import create_app
from lti_tool.config import Settings
from lti_tool.db import make_engine, make_session_factory
from lti_tool.lti.models import ToolKey
from lti_tool.lti.registration import PlatformSpec, RegistrationService
from lti_tool.migrate import upgrade
from lti_tool.models import Base
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from tests.support.clock import awkward_instant
from tests.support.launch import Launcher
from tests.support.platform import PlatformSimulator

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    """Only loopback (and unix sockets) may be reached from tests."""
    if isinstance(address, tuple) and address and address[0] not in ("127.0.0.1", "::1", "localhost"):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def college_clock() -> Iterator[dt.datetime]:
    """The whole suite runs at 17:00 UTC = 01:00 Beijing, ticking (tests/support/clock.py). A test
    that needs another instant moves there with time-machine's ``time_machine`` fixture."""
    start = awkward_instant()
    with time_machine.travel(start, tick=True):
        yield start


@pytest.fixture(autouse=True)
def _real_clock_when_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """``@pytest.mark.real_clock``: the test runs on the real time, e.g. when it talks to servers in other
    processes that sign or check tokens on their own clocks (the scale-out test's hosts)."""
    if request.node.get_closest_marker("real_clock") is None:
        yield
        return
    with time_machine.travel(time_machine.escape_hatch.time.time(), tick=True):
        yield


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TINGKE_TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        name = f"tingke_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        test_url = url.rsplit("/", 1)[0] + "/" + name
        upgrade(test_url)
        yield test_url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "tingke.db"
        test_url = f"sqlite:///{path}"
        upgrade(test_url)
        yield test_url


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def engine(database_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def session_factory(engine):  # type: ignore[no-untyped-def]
    return make_session_factory(engine)


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table after a test that used the database (functional tests commit for real)."""
    eng = request.getfixturevalue("engine") if "database_url" in request.fixturenames else None
    yield
    if eng is None:
        return
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with eng.begin() as conn:  # DELETE is much faster than TRUNCATE on PostgreSQL for tiny tables
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture(scope="session", autouse=True)
def _dispose_worker_connections() -> Iterator[None]:
    yield
    from worker import jobs

    jobs.dispose()


@pytest.fixture
def worker_db(settings: Settings) -> None:
    """The job functions (``run_report`` …) open their own sessions, as in the worker: point them at the
    test database. ``jobs.configure`` keeps one engine while the URL stays the same, so this is cheap per
    test, and it undoes a test that pointed the jobs elsewhere or disposed of them (the restore drill);
    ``_dispose_worker_connections`` closes the engine at the end of the run."""
    from worker import jobs

    jobs.configure(settings)


@pytest.fixture
def db_session(session_factory) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="session")
def tool_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, tool_port: int) -> Settings:
    instance = Path(tmp_path_factory.mktemp("instance"))
    return Settings(
        instance_path=instance,
        database_url=database_url,
        redis_url=os.environ.get("TINGKE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        secret_key="test-secret-" + uuid.uuid4().hex,
        base_url=f"http://localhost:{tool_port}",
        outbox_path=instance / "outbox",
        testing=True,
    )


@pytest.fixture(scope="session")
def app(settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings)
    yield application
    t = application.extensions["tingke"]
    t.session_factory.kw["bind"].dispose()
    if t.redis is not None:
        t.redis.close()


@pytest.fixture(scope="session")
def live_server(app, tool_port: int) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app on a real loopback port (the simulator and browsers reach it over HTTP)."""
    server = make_server("127.0.0.1", tool_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{tool_port}"
    server.shutdown()


@pytest.fixture(autouse=True)
def _reset_app_caches(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        t = request.getfixturevalue("app").extensions["tingke"]
        t.key_cache.clear()
        t.frame_origins = (0.0, [])


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def tool_key(session_factory, _tool_key_material) -> str:  # type: ignore[no-untyped-def]
    """The tool's signing key row, made from one key pair per test run (RSA generation is slow)."""
    kid, pem, public = _tool_key_material
    with session_factory.begin() as s:
        s.add(ToolKey(kid=kid, private_pem=pem, public_jwk=public))
    return kid


@pytest.fixture(scope="session")
def _tool_key_material() -> tuple[str, str, dict]:
    from lti_tool.lti.keys import _new_key

    return _new_key()


def make_institution(session_factory, code: str = "JTI", name: str = "吉林交通职业技术学院") -> int:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        inst = Institution(code=code, name=name)
        s.add(inst)
        s.flush()
        PolicyStore(s, inst.id).ensure_version()
        return inst.id


def register_platform(
    session_factory,
    settings: Settings,
    sim: PlatformSimulator,  # type: ignore[no-untyped-def]
    institution_code: str,
) -> None:
    with session_factory.begin() as s:
        RegistrationService(s, settings).add_platform(
            institution_code,
            PlatformSpec(
                issuer=sim.issuer,
                client_id=sim.client_id,
                deployment_ids=[sim.deployment_id],
                auth_login_url=sim.urls["auth"],
                auth_token_url=sim.urls["token"],
                key_set_url=sim.urls["jwks"],
                name="Simulated LMS",
            ),
        )


@pytest.fixture
def institution_id(session_factory) -> int:  # type: ignore[no-untyped-def]
    return make_institution(session_factory)


@pytest.fixture
def platform(session_factory, settings, institution_id, tool_key, live_server) -> Iterator[PlatformSimulator]:  # type: ignore[no-untyped-def]
    sim = PlatformSimulator().start()
    sim.tool_base = settings.base_url
    sim.tool_jwks_url = f"{live_server}/.well-known/jwks.json"
    register_platform(session_factory, settings, sim, "JTI")
    yield sim
    sim.stop()


@pytest.fixture
def launcher(client, platform) -> Launcher:  # type: ignore[no-untyped-def]
    return Launcher(client, platform)
