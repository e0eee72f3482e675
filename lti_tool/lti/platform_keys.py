"""The platforms' public keys (JWKS), cached per process.

A launch's ``kid`` is looked up in the cache; on a miss the JWKS is fetched once (with a timeout), and a
kid still unknown after that refresh does not cause another fetch until ``refresh_min_interval`` passed.
This keeps a stream of forged tokens with random kids from turning into a stream of requests to the
platform.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests

from lti_tool.errors import LaunchRefused


@dataclass
class _Entry:
    keys: dict[str, dict]
    fetched_at: float


class PlatformKeyCache:
    def __init__(self, ttl: float, refresh_min_interval: float) -> None:
        self.ttl = ttl
        self.refresh_min_interval = refresh_min_interval
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _fetch(self, url: str, http: requests.Session) -> _Entry:
        self.fetches += 1
        try:
            resp = http.get(url)
            resp.raise_for_status()
            data = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchRefused("The platform's public keys could not be fetched from %(url)s.", url=url) from exc
        keys = {str(k["kid"]): k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kid")}
        return _Entry(keys=keys, fetched_at=time.monotonic())

    def key_for(self, url: str, kid: str, http: requests.Session) -> dict:
        with self._lock:
            entry = self._entries.get(url)
            now = time.monotonic()
            stale = entry is None or now - entry.fetched_at > self.ttl
            unknown = entry is not None and kid not in entry.keys
            may_refresh = entry is None or now - entry.fetched_at > self.refresh_min_interval
            if stale or (unknown and may_refresh):
                entry = self._fetch(url, http)
                self._entries[url] = entry
            assert entry is not None
            key = entry.keys.get(kid)
        if key is None:
            raise LaunchRefused("The launch was signed with a key the platform does not publish.")
        return key
