"""One settings object, read from the environment once.

Every knob has a development default so that a newcomer gets a working tool with no configuration:
SQLite in the instance folder and a local Redis. Production sets ``TINGKE_*`` variables (PostgreSQL,
Redis, the public base URL, a real secret). Tests build a ``Settings`` with overrides and pass it to
``create_app``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from lti_tool import PROJECT_ROOT


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default) or default


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; immutable so request code cannot drift from what was started."""

    instance_path: Path
    database_url: str
    redis_url: str
    secret_key: str
    base_url: str
    session_lifetime_seconds: int = 8 * 3600
    link_token_seconds: int = 900
    """How long a session token in a link or form works, where the browser keeps no session cookie: every
    page issues fresh ones, so a copied URL stops working after this (docs/decisions.md L-4)."""
    login_state_lifetime_seconds: int = 600
    jwks_cache_seconds: int = 3600
    jwks_refresh_min_interval_seconds: int = 60
    jwks_fetch_deadline_seconds: float = 5.0
    """The whole fetch of a platform's key set (connect, reads, body) must finish within this."""
    jwks_failure_backoff_seconds: float = 30.0
    """After a failed key-set fetch, that platform's launches are refused at once for this long."""
    http_timeout_seconds: float = 5.0
    clock_leeway_seconds: int = 60
    id_token_max_age_seconds: int = 600
    """A launch's id_token issued (``iat``) longer ago than this is refused, whatever its ``exp`` says: a
    platform posts the token the moment it signs it (README, "Security")."""
    max_login_states_per_browser: int = 8
    """Pending login-state cookies one browser keeps; a further login replaces the oldest, so abandoned
    logins cannot pile up until the request headers are too large (HTTP 431)."""
    outbox_path: Path | None = None
    smtp_url: str = ""
    default_locale: str = "zh_CN"
    environment: str = "development"
    """``production`` makes ``tingke check`` strict (https base URL, a configured secret)."""
    proxy_hops: int = 0
    """How many reverse proxies (nginx) stand in front of the app; their X-Forwarded-* headers are trusted
    for exactly that many hops (werkzeug's ProxyFix), never more, so a client cannot spoof its address."""
    log_format: str = "text"
    """``json``: one JSON object per log line (request id, institution, actor, route, status, duration)."""
    log_level: str = "INFO"
    metrics_token: str = ""
    """When set, ``/metrics`` answers only requests carrying ``Authorization: Bearer <token>``."""
    demo_lms_url: str = ""
    """Where ``tingke demo-lms`` runs (set by scripts/run.sh): ``/`` links to it, never in production."""
    timezone: str = "Asia/Shanghai"
    """The college's time zone for institutions that name none (lti_tool/clock.py, docs/decisions.md T-1)."""
    worker_maintenance_seconds: int = 30
    """How often RQ workers look for jobs abandoned by a dead worker (and retry them)."""
    import_max_bytes: int = 16 * 1024 * 1024
    """Imports (lti_tool/tabular.py ``Limits``): the largest file; at most the request limit, 16 MB."""
    import_max_rows: int = 100_000
    """Data rows one import file may hold."""
    import_max_field_chars: int = 20_000
    """Characters one cell of an import file may hold."""
    import_max_unpacked_bytes: int = 100 * 1024 * 1024
    """An XLSX's parts unpacked, all together, read from its zip directory before anything is inflated."""
    import_max_ratio: int = 100
    """How many times larger than stored any XLSX part (of 256 KiB or more unpacked) may unpack."""
    import_inline_bytes: int = 1024 * 1024
    """Imports whose work (a CSV's bytes, an XLSX's unpacked bytes) is larger run as a worker job with a
    progress page (lti_tool/import_runs), not inside the web request."""
    photo_max_bytes: int = 8 * 1024 * 1024
    """One photo of a problem as uploaded (lti_tool/problems/photos.py); beyond it 413."""
    photo_max_count: int = 6
    """Photos one problem may have."""
    testing: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        instance = Path(_env("TINGKE_INSTANCE_PATH", str(PROJECT_ROOT / "instance"))).resolve()
        settings = cls(
            instance_path=instance,
            database_url=_env("TINGKE_DATABASE_URL", f"sqlite:///{instance / 'tingke.db'}"),
            redis_url=_env("TINGKE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            secret_key=_env("TINGKE_SECRET_KEY", ""),
            base_url=_env("TINGKE_BASE_URL", "http://localhost:5000").rstrip("/"),
            session_lifetime_seconds=int(_env("TINGKE_SESSION_LIFETIME", str(8 * 3600))),
            link_token_seconds=int(_env("TINGKE_LINK_TOKEN_LIFETIME", "900")),
            outbox_path=Path(_env("TINGKE_OUTBOX", str(instance / "outbox"))),
            smtp_url=_env("TINGKE_SMTP_URL", ""),
            environment=_env("TINGKE_ENV", "development"),
            proxy_hops=int(_env("TINGKE_PROXY_HOPS", "0")),
            log_format=_env("TINGKE_LOG_FORMAT", "text"),
            log_level=_env("TINGKE_LOG_LEVEL", "INFO").upper(),
            metrics_token=_env("TINGKE_METRICS_TOKEN", ""),
            demo_lms_url=_env("TINGKE_DEMO_LMS_URL", ""),
            timezone=_env("TINGKE_TIMEZONE", "Asia/Shanghai"),
            worker_maintenance_seconds=int(_env("TINGKE_WORKER_MAINTENANCE_INTERVAL", "30")),
            id_token_max_age_seconds=int(_env("TINGKE_ID_TOKEN_MAX_AGE", "600")),
            import_max_bytes=int(_env("TINGKE_IMPORT_MAX_BYTES", str(16 * 1024 * 1024))),
            import_max_rows=int(_env("TINGKE_IMPORT_MAX_ROWS", "100000")),
            import_max_field_chars=int(_env("TINGKE_IMPORT_MAX_FIELD_CHARS", "20000")),
            import_max_unpacked_bytes=int(_env("TINGKE_IMPORT_MAX_UNPACKED_BYTES", str(100 * 1024 * 1024))),
            import_max_ratio=int(_env("TINGKE_IMPORT_MAX_RATIO", "100")),
            import_inline_bytes=int(_env("TINGKE_IMPORT_INLINE_BYTES", str(1024 * 1024))),
            photo_max_bytes=int(_env("TINGKE_PHOTO_MAX_BYTES", str(8 * 1024 * 1024))),
            photo_max_count=int(_env("TINGKE_PHOTO_MAX_COUNT", "6")),
        )
        return replace(settings, **overrides) if overrides else settings  # type: ignore[arg-type]

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def resolved_secret(self) -> str:
        """The signing secret: the configured one, else one generated and kept in the instance folder.

        The app and the CLI resolve the secret through the database first (``lti_tool/lti/secret.py``:
        every host of a multi-host install must agree on it), and only fall back to this file when the
        database cannot be reached yet (a fresh install before ``tingke init``).
        """
        if self.secret_key:
            return self.secret_key
        path = self.instance_path / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.instance_path.mkdir(parents=True, exist_ok=True)
        secret = os.urandom(32).hex()
        path.write_text(secret)
        path.chmod(0o600)
        return secret
