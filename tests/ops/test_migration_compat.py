"""Migrations on a running system: each migration added from now on must leave the previous release's
code working while (and after) it runs — expand, then contract (README, "Migrations on a running
system").

For every revision after ``RULE_STARTS_AFTER``: the code as it was just before that migration was added
(git: the parent of the commit that added the file, following renames; HEAD while the file is not
committed yet) is checked out into a temporary
folder; the database is migrated to the revision before, the old code's smoke run
(``old_code_smoke.py``: every mapped column read, ORM writes, its app answering) passes, then the new
migration runs and the same old code must still pass. A migration that drops or renames a column the old
code reads, or adds a NOT NULL column without a default the old code does not fill, fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from lti_tool import PROJECT_ROOT
from lti_tool.migrate import alembic_config, upgrade

RULE_STARTS_AFTER = "0005"
"""The head when the rule was adopted; earlier migrations were written for installs with downtime."""


def _revisions_under_the_rule() -> list[tuple[str, str | None, Path]]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revs = []
    for rev in script.walk_revisions():
        if rev.revision > RULE_STARTS_AFTER:
            assert isinstance(rev.down_revision, str | None)
            revs.append((rev.revision, rev.down_revision, Path(rev.path)))
    return sorted(revs)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout


def _checkout_before(path: Path, into: Path) -> str:
    """The code of the commit before ``path`` was added, unpacked into ``into``; returns that commit."""
    relative = path.relative_to(PROJECT_ROOT)
    added = _git("log", "--follow", "--diff-filter=A", "--format=%H", "--", str(relative)).split()
    # Not committed yet (a migration being written): the committed code is the previous release.
    previous = _git("rev-parse", f"{added[-1]}^" if added else "HEAD").strip()
    archive = into / "code.tar"
    with open(archive, "wb") as fh:
        subprocess.run(
            ["git", "archive", previous, "lti_tool", "migrations", "alembic.ini", "templates"],
            cwd=PROJECT_ROOT,
            stdout=fh,
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return previous


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get("TINGKE_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'compat.db'}"
        return
    name = f"tingke_compat_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _old_code_works(code: Path, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINGKE_")}
    env["PYTHONPATH"] = str(code)
    env["TINGKE_INSTANCE_PATH"] = str(code / "instance")
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "ops" / "old_code_smoke.py"), database_url],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "old code works" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("revision, down, path", _revisions_under_the_rule(), ids=lambda v: str(v)[-60:])
def test_the_previous_release_works_on_the_migrated_schema(revision, down, path, scratch_url, tmp_path):  # type: ignore[no-untyped-def]
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs the git history (a clone, not an export)")
    code = tmp_path / "previous"
    code.mkdir()
    _checkout_before(path, code)
    upgrade(scratch_url, down or "base")
    _old_code_works(code, scratch_url)  # the old release on its own schema
    upgrade(scratch_url, revision)
    _old_code_works(code, scratch_url)  # the same release after the new migration ran


def test_the_rule_covers_every_new_migration():  # type: ignore[no-untyped-def]
    revisions = [r for r, _d, _p in _revisions_under_the_rule()]
    assert revisions and revisions[0] == "0006"  # the first migration written under the rule
