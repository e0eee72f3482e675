"""The platforms' public keys (JWKS), cached per process.

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

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from lti_tool.errors import LaunchRefused


@dataclass
class _Entry:
    keys: dict[str, dict]
    fetched_at: float
    refreshed_for_unknown_kid_at: float | None = None


class PlatformKeyCache:
    def __init__(self, ttl: float, refresh_min_interval: float) -> None:
        self.ttl = ttl
        self.refresh_min_interval = refresh_min_interval
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._public_keys: dict[tuple[str, str, str], RSAPublicKey] = {}
        self.fetches = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._public_keys.clear()

    def _fetch(self, url: str, http: requests.Session | Callable[[], requests.Session]) -> _Entry:
        self.fetches += 1
        if not isinstance(http, requests.Session):
            http = http()
        try:
            resp = http.get(url)
            resp.raise_for_status()
            data = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchRefused(
                "The platform's public keys could not be fetched from %(url)s.", url=url
            ) from exc
        keys = {str(k["kid"]): k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kid")}
        return _Entry(keys=keys, fetched_at=time.monotonic())

    def key_for(self, url: str, kid: str, http: requests.Session | Callable[[], requests.Session]) -> dict:
        with self._lock:
            entry = self._entries.get(url)
            now = time.monotonic()
            if entry is None or now - entry.fetched_at > self.ttl:
                entry = self._entries[url] = self._fetch(url, http)
            elif kid not in entry.keys:
                last = entry.refreshed_for_unknown_kid_at
                if last is None or now - last > self.refresh_min_interval:
                    entry = self._entries[url] = self._fetch(url, http)
                    entry.refreshed_for_unknown_kid_at = now
            key = entry.keys.get(kid)
        if key is None:
            raise LaunchRefused("The launch was signed with a key the platform does not publish.")
        return key

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
