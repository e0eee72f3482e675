"""Outgoing HTTP to platforms: always with a timeout, never an unbounded wait inside a request."""

from __future__ import annotations

from typing import Any

import requests


class TimeoutSession(requests.Session):
    """A ``requests.Session`` whose every call has a timeout (pylti1p3 passes none of its own)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = "Tingke LTI tool"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class LazyTimeoutSession:
    """A ``TimeoutSession`` built on first use.

    Every login and launch needs an HTTP session at hand for the rare JWKS fetch; building a
    ``requests.Session`` (adapters, pool managers, default headers) on every request would be wasted.
    pylti1p3 only stores what it is given, so this stands in for the session until something calls it.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._real: TimeoutSession | None = None

    def session(self) -> TimeoutSession:
        if self._real is None:
            self._real = TimeoutSession(self._timeout)
        return self._real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session(), name)
