"""Alembic is the only way the schema is created or changed (issue 2 §1), so the migrations must be sound.

- one head: two engineers adding migrations from the same parent would leave two, and
  ``tingke db upgrade`` would refuse to run;
- every revision upgrades and downgrades, one step at a time, and a full upgrade → downgrade to base →
  upgrade round trip works;
- the migrated schema is exactly what the models declare (Alembic's own autogenerate comparison finds
  nothing to do), so nobody changed a model without a migration.

Each test gets its own throwaway database — a SQLite file, or a fresh PostgreSQL database when
``TINGKE_TEST_DATABASE_URL`` is set — so dropping every table never disturbs the session's test database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from lti_tool.db import make_engine
from lti_tool.migrate import alembic_config, downgrade, upgrade
from lti_tool.models import Base


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    url = os.environ.get("TINGKE_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"tingke_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_single_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"several Alembic heads {heads}: merge them (alembic merge) before upgrading"


def test_every_revision_has_a_docstring_and_a_downgrade() -> None:
    for rev in _script().walk_revisions():
        assert rev.doc and rev.doc.strip(), f"migration {rev.revision} has no one-line description"
        downgrade_fn = getattr(rev.module, "downgrade", None)
        assert callable(downgrade_fn), f"migration {rev.revision} has no downgrade()"


def test_upgrade_downgrade_to_base_and_upgrade_again(scratch_url: str) -> None:
    model_tables = set(Base.metadata.tables)
    upgrade(scratch_url)
    assert _tables(scratch_url) == model_tables
    downgrade(scratch_url, "base")
    assert _tables(scratch_url) == set()
    upgrade(scratch_url)
    assert _tables(scratch_url) == model_tables
    assert _schema_differences(scratch_url) == []


def test_each_revision_upgrades_and_downgrades_one_step_at_a_time(scratch_url: str) -> None:
    revisions = [r.revision for r in reversed(list(_script().walk_revisions()))]
    for revision in revisions:
        upgrade(scratch_url, revision)
    for _ in revisions:
        downgrade(scratch_url, "-1")
    assert _tables(scratch_url) == set()


def test_migrated_schema_matches_the_models(scratch_url: str) -> None:
    upgrade(scratch_url)
    differences = _schema_differences(scratch_url)
    assert differences == [], (
        "the models and the migrations disagree; add a migration (tingke db revision / alembic revision "
        f"--autogenerate) for: {differences}"
    )
