"""What must be true for Tingke to serve: each check returns a finding in plain words.

``/readyz`` runs the cheap ones (database, migrations, Redis) on every probe; ``tingke check`` (the
doctor) runs them all and prints every fault with what to do about it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from lti_tool.config import Settings
from lti_tool.migrate import alembic_config

PDF_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC")
"""The families templates/reports/report.css asks for; without them Chinese prints as boxes."""


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "message": self.message}


@lru_cache(maxsize=1)
def code_heads() -> tuple[str, ...]:
    """The migration heads this code expects (read once per process)."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def database_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def check_database(engine: Engine) -> Finding:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the same to the operator
        return Finding(
            "database",
            False,
            f"cannot connect to the database ({_first_line(exc)}); check TINGKE_DATABASE_URL",
        )
    return Finding("database", True, f"connected ({engine.url.render_as_string(hide_password=True)})")


def check_migrations(engine: Engine) -> Finding:
    try:
        current = database_revisions(engine)
    except Exception as exc:
        return Finding("migrations", False, f"cannot read the schema version ({_first_line(exc)})")
    expected = code_heads()
    if current == expected:
        return Finding("migrations", True, f"schema at {', '.join(expected)} (head)")
    if not current:
        return Finding(
            "migrations", False, "the database has no schema yet: run `tingke db upgrade` (or `tingke init`)"
        )
    return Finding(
        "migrations",
        False,
        f"the database schema is at {', '.join(current)} but this code needs {', '.join(expected)}: "
        "run `tingke db upgrade`",
    )


def check_redis(redis_url: str) -> Finding:
    from redis import Redis

    try:
        conn = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            conn.ping()
            policy = _maxmemory_policy(conn)
        finally:
            conn.close()
    except Exception as exc:
        return Finding(
            "redis",
            False,
            f"cannot reach Redis at {_hide_password(redis_url)} ({_first_line(exc)}); check TINGKE_REDIS_URL",
        )
    if policy not in (None, "noeviction"):
        return Finding(
            "redis",
            False,
            f"Redis evicts keys under memory pressure (maxmemory-policy {policy}): queued jobs could vanish; "
            "set `maxmemory-policy noeviction`",
        )
    return Finding("redis", True, f"reachable at {_hide_password(redis_url)}")


def _maxmemory_policy(conn: object) -> str | None:
    try:
        return str(conn.config_get("maxmemory-policy").get("maxmemory-policy"))  # type: ignore[attr-defined]
    except Exception:  # CONFIG may be disabled on a managed Redis: not a fault
        return None


def check_keys(engine: Engine) -> Finding:
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy.orm import Session

    from lti_tool.lti.models import ToolKey

    try:
        with Session(engine) as session:
            keys = list(session.query(ToolKey).order_by(ToolKey.created_at))
    except Exception as exc:
        return Finding("signing keys", False, f"cannot read the signing keys ({_first_line(exc)})")
    if not keys:
        return Finding(
            "signing keys", False, "the tool has no signing key: run `tingke init` (or `tingke keys add`)"
        )
    for key in keys:
        try:
            serialization.load_pem_private_key(key.private_pem.encode(), password=None)
        except Exception:
            return Finding(
                "signing keys",
                False,
                f"the signing key {key.kid} is damaged: add a new one with `tingke keys add`, then remove it",
            )
        if key.public_jwk.get("kid") != key.kid:
            return Finding(
                "signing keys",
                False,
                f"the signing key {key.kid} publishes another kid: add a new key with `tingke keys add`",
            )
    return Finding("signing keys", True, f"{len(keys)} key(s) in the database, newest {keys[-1].kid}")


def check_secret(settings: Settings, engine: Engine) -> Finding:
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            return Finding(
                "secret", False, "TINGKE_SECRET_KEY is shorter than 32 characters: use `openssl rand -hex 32`"
            )
        return Finding("secret", True, "TINGKE_SECRET_KEY is set")
    from sqlalchemy.orm import Session

    from lti_tool.lti.secret import stored_secret

    try:
        with Session(engine) as session:
            stored = stored_secret(session)
    except Exception as exc:
        return Finding("secret", False, f"cannot read the instance secret ({_first_line(exc)})")
    if stored:
        return Finding("secret", True, "the instance secret is kept in the database (shared by every host)")
    return Finding("secret", True, "no secret yet: the first app start stores one in the database")


def check_fonts() -> Finding:
    if shutil.which("fc-list") is None:
        return Finding(
            "fonts", False, "fontconfig is missing (fc-list): install Debian's fontconfig and fonts-noto-cjk"
        )
    listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=False).stdout
    families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
    missing = [f for f in PDF_FONTS if f not in families]
    if missing:
        return Finding(
            "fonts",
            False,
            f"the reports' fonts are missing ({', '.join(missing)}): Chinese would print as empty boxes; "
            "install Debian's fonts-noto-cjk",
        )
    return Finding("fonts", True, f"{', '.join(PDF_FONTS)} installed")


def check_pdf_engine() -> Finding:
    try:
        import weasyprint  # noqa: F401
    except Exception as exc:  # OSError when pango is missing
        return Finding(
            "pdf engine",
            False,
            f"WeasyPrint cannot load ({_first_line(exc)}): install libpango-1.0-0 and libpangoft2-1.0-0",
        )
    return Finding("pdf engine", True, "WeasyPrint loads")


def check_base_url(settings: Settings) -> Finding:
    parts = urlsplit(settings.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Finding("base url", False, f"TINGKE_BASE_URL is not a URL ({settings.base_url!r})")
    if settings.is_production:
        if parts.scheme != "https":
            return Finding(
                "base url",
                False,
                f"TINGKE_BASE_URL is {settings.base_url}: in production it must be https (LMSs refuse to "
                "launch plain-http tools, and browsers keep no partitioned cookie for them)",
            )
        if parts.hostname in ("localhost", "127.0.0.1", "::1"):
            return Finding(
                "base url",
                False,
                f"TINGKE_BASE_URL is {settings.base_url}: the LMS and browsers cannot reach localhost",
            )
        if settings.proxy_hops < 1:
            return Finding(
                "base url",
                False,
                "TINGKE_PROXY_HOPS is 0 although production runs behind nginx: set it to the number of "
                "proxies (1 for deploy/nginx), else all clients look like nginx, all requests like http",
            )
    return Finding("base url", True, settings.base_url)


def readiness(settings: Settings, engine: Engine) -> list[Finding]:
    """The probe behind ``/readyz``: database, migrations at head, Redis."""
    db = check_database(engine)
    return [
        db,
        check_migrations(engine) if db.ok else Finding("migrations", False, "database unreachable"),
        check_redis(settings.redis_url),
    ]


def doctor(settings: Settings, engine: Engine) -> list[Finding]:
    """Everything ``tingke check`` verifies, in the order an operator fixes them."""
    findings = [check_base_url(settings)]
    db = check_database(engine)
    findings.append(db)
    if db.ok:
        migrations = check_migrations(engine)
        findings.append(migrations)
        if migrations.ok:
            findings += [check_keys(engine), check_secret(settings, engine)]
    findings += [check_redis(settings.redis_url), check_pdf_engine(), check_fonts()]
    return findings


def _first_line(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()
    return text_[0] if text_ else exc.__class__.__name__


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
