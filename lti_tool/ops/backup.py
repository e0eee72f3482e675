"""``tingke backup`` and ``tingke restore``: one archive holds everything a restore needs.

What lives where (README, "Backups"): every row, the tool's signing keys, the instance secret (unless
``TINGKE_SECRET_KEY`` is set) and every stored file (reports, archives, exports are ``report_run.content``)
are in the database, so the archive is the database dump plus the configured secret (``secret.txt``, only
when it comes from the environment) and the mail outbox folder when mail is written to files. The archive
is a tar file readable by root only (it holds the secret).

PostgreSQL is dumped with ``pg_dump --format=custom`` and restored with ``pg_restore --no-owner`` into an
empty database; SQLite is copied with SQLite's online backup API. A restore then migrates the schema to
this code's head, so an archive from an older release restores into a newer one.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.config import Settings
from lti_tool.db import make_engine, utcnow
from lti_tool.errors import BadRequest, Conflict
from lti_tool.ops.checks import database_revisions

logger = logging.getLogger(__name__)
FORMAT = 1


@dataclass
class BackupSummary:
    path: Path
    database: str
    revisions: tuple[str, ...]
    secret_included: bool
    outbox_files: int
    size: int


def libpq_url(database_url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://…`` as the plain URL pg_dump and pg_restore understand."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(database_url: str) -> Path:
    path = make_url(database_url).database
    if not path:
        raise BadRequest("An in-memory SQLite database cannot be backed up.")
    return Path(path)


def _run(args: list[str]) -> None:
    tool = args[0]
    if shutil.which(tool) is None:
        raise BadRequest("%(tool)s is not installed (Debian: postgresql-client).", tool=tool)
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BadRequest("%(tool)s failed: %(error)s", tool=tool, error=done.stderr.strip()[-2000:])


def backup(settings: Settings, out: Path) -> BackupSummary:
    engine = make_engine(settings.database_url)
    try:
        revisions = database_revisions(engine)
    except SQLAlchemyError as exc:
        raise BadRequest(
            "Cannot read the database to back up (%(error)s); check TINGKE_DATABASE_URL.",
            error=str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0],
        ) from exc
    finally:
        engine.dispose()
    kind = "postgresql" if settings.database_url.startswith("postgresql") else "sqlite"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / ("database.dump" if kind == "postgresql" else "database.sqlite")
        if kind == "postgresql":
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                    libpq_url(settings.database_url),
                ]
            )
        else:
            source = sqlite3.connect(_sqlite_path(settings.database_url))
            target = sqlite3.connect(dump)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        outbox = Path(settings.outbox_path or settings.instance_path / "outbox")
        outbox_files = sorted(p for p in outbox.rglob("*") if p.is_file()) if outbox.is_dir() else []
        manifest = {
            "format": FORMAT,
            "created_at": utcnow().isoformat(timespec="seconds"),
            "database": kind,
            "revisions": list(revisions),
            "secret": "secret.txt" if settings.secret_key else "in the database",
            "outbox_files": len(outbox_files),
        }
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
            tar.add(dump, arcname=dump.name)
            if settings.secret_key:
                _add_bytes(tar, "secret.txt", settings.secret_key.encode())
            for path in outbox_files:
                tar.add(path, arcname=f"outbox/{path.relative_to(outbox)}")
    logger.info("backup written to %s (%s, revision %s)", out, kind, ",".join(revisions))
    return BackupSummary(
        out, kind, revisions, bool(settings.secret_key), len(outbox_files), out.stat().st_size
    )


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


@dataclass
class RestoreSummary:
    database: str
    revisions_before: tuple[str, ...]
    revisions_after: tuple[str, ...]
    secret: str
    outbox_files: int


def restore(settings: Settings, archive: Path) -> RestoreSummary:
    """Restore ``archive`` into ``settings.database_url`` (an empty database), then migrate to head."""
    from lti_tool.migrate import upgrade

    if not archive.is_file():
        raise BadRequest("No such backup file: %(path)s", path=str(archive))
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
        root = Path(tmp)
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise BadRequest("%(path)s is not a Tingke backup (no manifest.json).", path=str(archive))
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != FORMAT:
            raise BadRequest("Unknown backup format %(format)s.", format=manifest.get("format"))
        kind = "postgresql" if settings.database_url.startswith("postgresql") else "sqlite"
        if manifest["database"] != kind:
            raise BadRequest(
                "The backup is of a %(backup)s database but TINGKE_DATABASE_URL is %(target)s.",
                backup=manifest["database"],
                target=kind,
            )
        _require_empty(settings.database_url)
        if kind == "postgresql":
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    f"--dbname={libpq_url(settings.database_url)}",
                    str(root / "database.dump"),
                ]
            )
        else:
            target = _sqlite_path(settings.database_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / "database.sqlite", target)
        upgrade(settings.database_url)
        secret = _restore_secret(settings, root / "secret.txt")
        outbox_src = root / "outbox"
        restored_files = 0
        if outbox_src.is_dir():
            outbox = Path(settings.outbox_path or settings.instance_path / "outbox")
            for path in outbox_src.rglob("*"):
                if path.is_file():
                    dest = outbox / path.relative_to(outbox_src)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
                    restored_files += 1
    engine = make_engine(settings.database_url)
    try:
        after = database_revisions(engine)
    finally:
        engine.dispose()
    logger.info("backup %s restored (%s → %s)", archive, ",".join(manifest["revisions"]), ",".join(after))
    return RestoreSummary(kind, tuple(manifest["revisions"]), after, secret, restored_files)


def _require_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise Conflict(
            "The target database is not empty (%(count)s tables): restore into a new, empty database.",
            count=len(tables),
        )


def _restore_secret(settings: Settings, secret_file: Path) -> str:
    """Put a secret that came from the environment into the restored database (unless it has one), so the
    restored instance keeps its registration URLs and sessions without copying the env file."""
    if not secret_file.is_file():
        return "in the database"
    from sqlalchemy.orm import Session

    from lti_tool.lti.models import InstanceSecret

    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            if session.get(InstanceSecret, 1) is None:
                session.add(InstanceSecret(id=1, value=secret_file.read_text().strip()))
                session.commit()
                return "stored in the database (it came from TINGKE_SECRET_KEY)"
            return "the database already had one"
    finally:
        engine.dispose()
