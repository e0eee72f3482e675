"""What-if measurement aid: the app with the launch-path changes proposed in bench/launch.md applied
as monkeypatches, so their effect can be measured before anyone edits the real modules.

NOT production code. ``bench/launch.py --tuned`` serves ``bench.tuned:create_app()`` instead of
``lti_tool.wsgi:app`` and runs the in-process profile with the same patches. Each patch is skipped
(with a note on stderr) when the code it targets has changed shape, so the bench never silently
measures something else.

Patches (numbers refer to the list in bench/launch.md):

1. ``DbToolConf.platform`` memoised per request (per ``DbToolConf`` instance): a login looks the
   platform up twice, a launch three times.
2. The tool's signing key cached per process for 60 s: neither login nor launch signs anything, yet
   each builds a registration that selects the newest ``tool_key`` row.
3. The expired-row cleanups (``DELETE … WHERE expires_at < now`` on ``login_state`` and
   ``launch_session``) run on one request in 100 instead of every login and launch.
4. ``PolicyStore.current()`` cached per process and institution for 5 s (the parse is already cached
   by text, but every call selects the whole policy text again; the home page calls it 3–4 times).
5. The outgoing ``requests`` session (``TimeoutSession``) built only when a JWKS fetch needs it, not
   in every ``LaunchService`` (i.e. every login and launch).
6. The platform key's PEM cached by (kid, modulus) instead of ``JWK(**jwk).export_to_pem()`` on
   every launch.
"""

from __future__ import annotations

import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.dml import Delete

APPLIED: list[str] = []


def _note(msg: str) -> None:
    print(f"[bench.tuned] {msg}", file=sys.stderr)


def _memoise_platform() -> None:
    from lti_tool.lti.tool_conf import DbToolConf

    original = getattr(DbToolConf, "platform", None)
    if original is None:
        _note("skip 1: DbToolConf.platform not found")
        return

    def platform(self: Any, iss: str, client_id: str | None) -> Any:
        memo = self.__dict__.setdefault("_bench_memo", {})
        key = (iss, client_id)
        if key not in memo:
            memo[key] = original(self, iss, client_id)
        return memo[key]

    DbToolConf.platform = platform  # type: ignore[method-assign]
    APPLIED.append("1 platform memo")


def _cache_signing_key(ttl: float = 60.0) -> None:
    from lti_tool.lti.keys import KeyService

    original = getattr(KeyService, "signing_key", None)
    if original is None:
        _note("skip 2: KeyService.signing_key not found")
        return
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def signing_key(self: Any) -> Any:
        with lock:
            hit = cache.get("key")
            if hit and time.monotonic() - hit[0] < ttl:
                return hit[1]
        row = original(self)
        copy = SimpleNamespace(id=row.id, kid=row.kid, private_pem=row.private_pem, public_jwk=row.public_jwk)
        with lock:
            cache["key"] = (time.monotonic(), copy)
        return copy

    KeyService.signing_key = signing_key  # type: ignore[method-assign]
    APPLIED.append("2 signing key cache")


def _thin_cleanups(every: int = 100) -> None:
    original = Session.execute
    counter = {"n": 0}

    def is_cleanup(statement: Any) -> bool:
        if not isinstance(statement, Delete) or statement.table.name not in ("login_state", "launch_session"):
            return False
        where = statement.whereclause
        left = getattr(where, "left", None)
        return getattr(left, "name", "") == "expires_at" and getattr(where, "operator", None) is operators.lt

    class _NoRows:
        rowcount = 0

    def execute(self: Session, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if is_cleanup(statement):
            counter["n"] += 1
            if counter["n"] % every:
                return _NoRows()
        return original(self, statement, *args, **kwargs)

    Session.execute = execute  # type: ignore[method-assign]
    APPLIED.append(f"3 cleanup 1/{every}")


def _cache_policy(ttl: float = 5.0) -> None:
    from lti_tool.policy.store import PolicyStore

    original = getattr(PolicyStore, "current", None)
    if original is None:
        _note("skip 4: PolicyStore.current not found")
        return
    cache: dict[int, tuple[float, Any]] = {}

    def current(self: Any) -> Any:
        hit = cache.get(self.institution_id)
        if hit and time.monotonic() - hit[0] < ttl:
            return hit[1]
        policy = original(self)
        cache[self.institution_id] = (time.monotonic(), policy)
        return policy

    PolicyStore.current = current  # type: ignore[method-assign]
    APPLIED.append("4 policy cache")


def _lazy_http_session() -> None:
    from lti_tool.lti import services

    real = getattr(services, "TimeoutSession", None)
    if real is None:
        _note("skip 5: services.TimeoutSession not found")
        return

    class LazyTimeoutSession:
        """Builds the real session on first use (most requests never fetch anything)."""

        def __init__(self, timeout: float) -> None:
            self._timeout = timeout
            self._real: Any = None

        def __getattr__(self, name: str) -> Any:
            if self._real is None:
                self._real = real(self._timeout)
            return getattr(self._real, name)

    services.TimeoutSession = LazyTimeoutSession  # type: ignore[attr-defined, misc]
    APPLIED.append("5 lazy http session")


def _cache_platform_pem() -> None:
    from lti_tool.lti import services

    real = getattr(services, "JWK", None)
    if real is None:
        _note("skip 6: services.JWK not found")
        return
    cache: dict[tuple[str, str], bytes] = {}

    class CachedJWK:
        def __init__(self, **jwk: Any) -> None:
            self._jwk = jwk

        def export_to_pem(self, *args: Any, **kwargs: Any) -> bytes:
            key = (str(self._jwk.get("kid")), str(self._jwk.get("n")))
            if args or kwargs or key not in cache:
                pem = real(**self._jwk).export_to_pem(*args, **kwargs)
                if args or kwargs:
                    return pem  # type: ignore[no-any-return]
                cache[key] = pem
            return cache[key]

        def __getattr__(self, name: str) -> Any:
            return getattr(real(**self._jwk), name)

    services.JWK = CachedJWK  # type: ignore[attr-defined, misc]
    APPLIED.append("6 platform PEM cache")


def apply() -> list[str]:
    if not APPLIED:
        for patch in (_memoise_platform, _cache_signing_key, _thin_cleanups, _cache_policy,
                      _lazy_http_session, _cache_platform_pem):
            patch()
        _note("applied: " + ", ".join(APPLIED))
    return APPLIED


def create_app() -> Any:
    """gunicorn ``bench.tuned:create_app()``: the real factory, after the patches."""
    apply()
    from lti_tool.app import create_app as real_create_app

    return real_create_app()
