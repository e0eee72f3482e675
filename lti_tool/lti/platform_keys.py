"""The platforms' public keys (JWKS), cached per process.

One platform cannot stall another (issue 13 §1): a fetch holds only its own platform's lock (a key already
cached is served without any lock), the whole fetch — connect, every read and the body — has one deadline
(``fetch_deadline``), and a failed fetch is remembered for ``failure_backoff`` seconds, during which that
platform's launches are refused at once instead of each waiting for the same dead server. The launch runs
its cheap checks (state, registration, deployment, message shape) before it asks for a key at all
(services.py).

A launch's ``kid`` is looked up in the cache. An unknown kid triggers one refresh of the JWKS (with a
timeout): the platform may just have rotated its key. After such a refresh, further unknown kids cause
no fetch until ``refresh_min_interval`` has passed, so a stream of forged tokens with random kids does not
turn into a stream of requests to the platform. The first fetch of a JWKS does not count as a refresh:
a platform that rotates its key right after Tingke first cached it is still followed at once.

The parsed public key objects are kept too (by kid, modulus and exponent), so a launch verifies its
signature without turning the JWK into a PEM and the PEM into a key every time. The outgoing HTTP session
may be passed as a factory: most launches fetch nothing, and building a ``requests.Session`` costs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from lti_tool.errors import LaunchRefused


class _DeadlinePassed(Exception):
    """The whole fetch took longer than ``PlatformKeyCache.fetch_deadline``."""


def _socket_of(raw: object) -> socket.socket | None:
    """The socket under a streamed urllib3 response, to bound each read by what is left of the deadline.
    urllib3 keeps the connection on the response while it is streamed (``HTTPResponse.connection``);
    when it cannot be found the per-read timeout still applies and the deadline is checked between reads."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


@dataclass
class _Entry:
    keys: dict[str, dict]
    fetched_at: float
    refreshed_for_unknown_kid_at: float | None = None


class _Platform:
    """One key-set URL's cache entry, its own lock (one fetch at a time for this platform only) and the
    time of its last failed fetch."""

    __slots__ = ("entry", "failed_at", "lock")

    def __init__(self) -> None:
        self.entry: _Entry | None = None
        self.failed_at: float | None = None
        self.lock = threading.Lock()


class PlatformKeyCache:
    def __init__(
        self,
        ttl: float,
        refresh_min_interval: float,
        fetch_deadline: float = 5.0,
        failure_backoff: float = 30.0,
        max_body_bytes: int = 1_000_000,
    ) -> None:
        self.ttl = ttl
        self.refresh_min_interval = refresh_min_interval
        self.fetch_deadline = fetch_deadline
        """Seconds for the whole fetch: connecting, every read and the body together."""
        self.failure_backoff = failure_backoff
        """After a failed fetch, launches of that platform are refused at once (no new fetch) this long."""
        self.max_body_bytes = max_body_bytes
        self._platforms: dict[str, _Platform] = {}
        self._lock = threading.Lock()  # guards the two dicts only; never held while fetching
        self._public_keys: dict[tuple[str, str, str], RSAPublicKey] = {}
        self.fetches = 0

    def clear(self) -> None:
        with self._lock:
            self._platforms.clear()
            self._public_keys.clear()

    def _platform(self, url: str) -> _Platform:
        found = self._platforms.get(url)
        if found is None:
            with self._lock:
                found = self._platforms.setdefault(url, _Platform())
        return found

    def _fetch(self, url: str, http: requests.Session | Callable[[], requests.Session]) -> _Entry:
        self.fetches += 1
        if not isinstance(http, requests.Session):
            http = http()
        try:
            data = json.loads(self._read_within_deadline(url, http))
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            ValueError,
            OSError,
            _DeadlinePassed,
        ) as exc:
            raise LaunchRefused(
                "The platform's public keys could not be fetched from %(url)s.", url=url
            ) from exc
        if not isinstance(data, dict):
            raise LaunchRefused("The platform's public keys could not be fetched from %(url)s.", url=url)
        keys = {str(k["kid"]): k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kid")}
        return _Entry(keys=keys, fetched_at=time.monotonic())

    def _read_within_deadline(self, url: str, http: requests.Session) -> bytes:
        """The body of ``url``, or ``_DeadlinePassed`` once ``fetch_deadline`` seconds have passed since the
        start, however the platform dribbles its answer: before every read the socket's timeout is set to
        what is left of the deadline (a per-read timeout alone lets a byte every few seconds go on for
        ever), and the body may not exceed ``max_body_bytes``."""
        deadline = time.monotonic() + self.fetch_deadline

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _DeadlinePassed
            return remaining

        first = left()
        with http.get(url, stream=True, timeout=(first, first)) as resp:
            resp.raise_for_status()
            raw = resp.raw
            sock = _socket_of(raw)
            body = bytearray()
            while True:
                remaining = left()
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = raw.read1(65536) if hasattr(raw, "read1") else raw.read(65536)
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_body_bytes:
                    raise ValueError("key set too large")
            return bytes(body)

    def has_key(self, url: str, kid: str) -> bool:
        """Whether ``kid`` of ``url`` is cached and fresh, i.e. ``key_for`` will fetch nothing."""
        entry = self._platforms.get(url)
        entry_ = entry.entry if entry is not None else None
        return entry_ is not None and kid in entry_.keys and time.monotonic() - entry_.fetched_at <= self.ttl

    def key_for(self, url: str, kid: str, http: requests.Session | Callable[[], requests.Session]) -> dict:
        """The JWK ``kid`` of the key set at ``url``. Known keys are served without any lock; a fetch holds
        only this platform's lock, so a slow or dead platform never delays another platform's launches."""
        platform = self._platform(url)
        entry = platform.entry
        if entry is not None and kid in entry.keys and time.monotonic() - entry.fetched_at <= self.ttl:
            return entry.keys[kid]
        # Launches of this platform wait for a fetch already under way (at most its deadline).
        if not platform.lock.acquire(timeout=self.fetch_deadline + 1):
            raise LaunchRefused("The platform's public keys could not be fetched from %(url)s.", url=url)
        try:
            entry = self._fresh_entry(platform, url, kid, http)
        finally:
            platform.lock.release()
        key = entry.keys.get(kid) if entry is not None else None
        if key is None:
            raise LaunchRefused("The launch was signed with a key the platform does not publish.")
        return key

    def _fresh_entry(
        self,
        platform: _Platform,
        url: str,
        kid: str,
        http: requests.Session | Callable[[], requests.Session],
    ) -> _Entry | None:
        """Under the platform's lock: the entry to look ``kid`` up in, fetched again when needed."""
        now = time.monotonic()
        entry = platform.entry
        expired = entry is None or now - entry.fetched_at > self.ttl
        if entry is not None and not expired and kid in entry.keys:
            return entry  # another launch fetched it while this one waited
        if entry is not None and not expired:  # an unknown kid: one refresh per interval
            last = entry.refreshed_for_unknown_kid_at
            if last is not None and now - last <= self.refresh_min_interval:
                return entry
        if platform.failed_at is not None and now - platform.failed_at < self.failure_backoff:
            if entry is not None and kid in entry.keys:
                return entry  # expired keys still verify while the platform cannot be reached
            raise LaunchRefused("The platform's public keys could not be fetched from %(url)s.", url=url)
        try:
            fetched = self._fetch(url, http)
        except LaunchRefused:
            platform.failed_at = time.monotonic()
            if entry is not None and kid in entry.keys:
                return entry
            raise
        platform.failed_at = None
        if entry is not None and not expired:
            fetched.refreshed_for_unknown_kid_at = now
        platform.entry = fetched
        return fetched

    def public_key(self, jwk: dict) -> RSAPublicKey:
        """The RSA public key of a JWK (from ``key_for``), parsed once; raises ``ValueError`` when the JWK
        is not a readable RSA public key. Only ``n`` and ``e`` are read: private members are ignored."""
        n, e = jwk.get("n"), jwk.get("e")
        if not isinstance(n, str) or not isinstance(e, str):
            raise ValueError("not an RSA public key")
        cache_key = (str(jwk.get("kid")), n, e)
        key = self._public_keys.get(cache_key)
        if key is None:
            try:
                parsed = RSAAlgorithm.from_jwk({"kty": "RSA", "n": n, "e": e})
            except Exception as exc:  # PyJWT raises InvalidKeyError, cryptography ValueError
                raise ValueError("not an RSA public key") from exc
            if not isinstance(parsed, RSAPublicKey):
                raise ValueError("not an RSA public key")
            key = parsed
            with self._lock:
                if len(self._public_keys) > 256:  # forged JWKS content cannot grow it without bound
                    self._public_keys.clear()
                self._public_keys[cache_key] = key
        return key
