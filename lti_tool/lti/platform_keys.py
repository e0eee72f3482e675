"""The platforms' public keys (JWKS), cached per process.

A launch's ``kid`` is looked up in the cache. An unknown kid triggers one refresh of the JWKS (with a
timeout): the platform may just have rotated its key. After such a refresh, further unknown kids cause
no fetch until ``refresh_min_interval`` has passed, so a stream of forged tokens with random kids does not
turn into a stream of requests to the platform. The first fetch of a JWKS does not count as a refresh:
a platform that rotates its key right after Tingke first cached it is still followed at once.
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
    refreshed_for_unknown_kid_at: float | None = None


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
            raise LaunchRefused("The platform's public keys could not be fetched from %(url)s.",
                                url=url) from exc
        keys = {str(k["kid"]): k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kid")}
        return _Entry(keys=keys, fetched_at=time.monotonic())

    def key_for(self, url: str, kid: str, http: requests.Session) -> dict:
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
