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
