"""The restore drill, on PostgreSQL: back up, restore into a fresh database, migrate, and the restored
instance launches from the LMS with the same keys and secret, shows the same compliance, and rebuilds an
archived semester's execution report byte for byte as the one stored when the semester was closed."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
import time_machine
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import sessionmaker

from lti_tool.app import create_app
from lti_tool.archive.services import ArchiveService
from lti_tool.lti.models import ToolKey
from lti_tool.reports.models import ReportRun
from tests.support import worlds
from tests.support.cli import cli_runner
from tests.support.launch import Launcher
from tests.support.platform import ROLE_LEARNER, LmsUser
from worker import jobs


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("the restore drill runs on PostgreSQL (TINGKE_TEST_DATABASE_URL)")
    name = f"tingke_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(os.environ["TINGKE_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield database_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def worker_db(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The job functions on the test database, as the worker would run them."""
    jobs.configure(settings)
    yield
    jobs.dispose()


def _execution_report(session_factory, run_id: int) -> bytes:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None and run.status == "succeeded", run and run.error
        assert run.content is not None and run.content.startswith(b"%PDF")
        return run.content


def test_backup_restore_launch_compliance_and_the_archived_report(  # type: ignore[no-untyped-def]
    session_factory,
    settings,
    database_url,
    fresh_database,
    institution_id,
    platform,
    worker_db,
    monkeypatch,
    tmp_path,
):
    with session_factory.begin() as s:
        built = worlds.statistics_world(s, institution_id)
        code, semester_id = built.semester.code, built.semester.id
    with session_factory.begin() as s:
        frozen = ArchiveService(s, institution_id).close(semester_id, None, confirm=code)
        frozen_ids = {run.kind: run.id for run in frozen}
    for run_id in frozen_ids.values():  # as the worker runs them after the close
        jobs.run_report(run_id)
    stored = _execution_report(session_factory, frozen_ids["execution_report"])

    source = cli_runner(monkeypatch, database_url, tmp_path / "source", secret_key=settings.secret_key)
    before = source("compliance", "--semester", code, "--institution", "JTI", "--json")
    assert before.exit_code == 0, before.output
    archive = tmp_path / "tingke.backup"
    made = source("backup", "--out", str(archive))
    assert made.exit_code == 0, made.output
    assert "secret included" in made.output and oct(archive.stat().st_mode & 0o777) == "0o600"

    # -- a new server: an empty database, no TINGKE_SECRET_KEY in its environment -----------------------
    monkeypatch.delenv("TINGKE_SECRET_KEY", raising=False)
    target = cli_runner(monkeypatch, fresh_database, tmp_path / "target")
    restored = target("restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "stored in the database" in restored.output
    again = target("restore", str(archive))
    assert again.exit_code == 2 and "not empty" in again.output  # never over a live database
    checked = target("check", "--only", "database,migrations,signing keys,secret")
    assert checked.exit_code == 0, checked.output

    after = target("compliance", "--semester", code, "--institution", "JTI", "--json")
    assert json.loads(after.output) == json.loads(before.output)

    app = create_app(
        replace(settings, database_url=fresh_database, secret_key="", instance_path=tmp_path / "app")
    )
    try:
        assert app.extensions["tingke"].secret == settings.secret_key  # registration URLs stay valid
        client = app.test_client()
        with session_factory() as s:
            original_keys = [k.public_jwk for k in s.scalars(select(ToolKey))]
        assert client.get("/.well-known/jwks.json").get_json()["keys"] == original_keys  # same signing keys
        launched = Launcher(client, platform).launch(
            LmsUser("u-l001", "王书记", "l001@jti.edu", "L001", [ROLE_LEARNER])
        )
        home = launched.get(client, "/home")
        assert home.status_code == 200 and "王书记" in home.get_data(as_text=True)
    finally:
        app.extensions["tingke"].session_factory.kw["bind"].dispose()

    # -- the archived semester's report, rebuilt from the restored database -----------------------------
    restored_engine = create_engine(fresh_database)
    try:
        with restored_engine.begin() as conn:
            rebuild_id = conn.execute(
                ReportRun.__table__.insert()
                .values(
                    institution_id=institution_id,
                    kind="execution_report",
                    semester_id=semester_id,
                    status="pending",
                    progress=0,
                    message="",
                    error="",
                    attempts=0,
                    job_id="",
                    frozen=False,
                    version=1,
                    filename="",
                )
                .returning(ReportRun.__table__.c.id)
            ).scalar_one()
        jobs.configure(replace(settings, database_url=fresh_database))
        try:
            with time_machine.travel(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)):  # months later
                jobs.run_report(rebuild_id)
        finally:
            jobs.configure(settings)
        rebuilt = _execution_report(sessionmaker(bind=restored_engine), rebuild_id)
    finally:
        restored_engine.dispose()
    assert rebuilt == stored
