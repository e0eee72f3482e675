"""The platform JWKS cache: one refresh for an unknown kid, then none until the minimum interval passed."""

from __future__ import annotations

import io
import json

import pytest
import requests

from lti_tool.errors import LaunchRefused
from lti_tool.lti import platform_keys
from lti_tool.lti.platform_keys import PlatformKeyCache

URL = "https://lms.example.edu/jwks"


class FakeResponse:
    def __init__(self, keys: list[dict]) -> None:
        self.raw = io.BytesIO(json.dumps({"keys": keys}).encode())

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def raise_for_status(self) -> None:
        pass


class FakeHttp(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[dict] = [{"kid": "k1", "kty": "RSA"}]
        self.calls = 0
        self.fail = False

    def get(self, url: str, **kwargs: object) -> FakeResponse:  # type: ignore[override]
        self.calls += 1
        if self.fail:
            raise requests.ConnectionError("down")
        return FakeResponse(list(self.keys))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(platform_keys.time, "monotonic", lambda: now[0])
    return now


def test_known_kid_is_served_from_the_cache(clock: list[float]) -> None:
    cache, http = PlatformKeyCache(ttl=3600, refresh_min_interval=60), FakeHttp()
    assert cache.key_for(URL, "k1", http)["kid"] == "k1"
    assert cache.key_for(URL, "k1", http)["kid"] == "k1"
    assert http.calls == 1


def test_rotated_key_right_after_the_first_fetch_is_followed(clock: list[float]) -> None:
    cache, http = PlatformKeyCache(ttl=3600, refresh_min_interval=60), FakeHttp()
    cache.key_for(URL, "k1", http)
    http.keys.append({"kid": "k2", "kty": "RSA"})  # the platform rotates its key
    clock[0] += 1
    assert cache.key_for(URL, "k2", http)["kid"] == "k2"
    assert http.calls == 2


def test_unknown_kids_cause_one_refresh_per_interval(clock: list[float]) -> None:
    cache, http = PlatformKeyCache(ttl=3600, refresh_min_interval=60), FakeHttp()
    cache.key_for(URL, "k1", http)
    for i in range(5):
        clock[0] += 1
        with pytest.raises(LaunchRefused):
            cache.key_for(URL, f"forged-{i}", http)
    assert http.calls == 2
    clock[0] += 61
    with pytest.raises(LaunchRefused):
        cache.key_for(URL, "forged-late", http)
    assert http.calls == 3
    assert cache.key_for(URL, "k1", http)["kid"] == "k1"  # known keys never wait
    assert http.calls == 3


def test_expired_cache_is_refetched(clock: list[float]) -> None:
    cache, http = PlatformKeyCache(ttl=3600, refresh_min_interval=60), FakeHttp()
    cache.key_for(URL, "k1", http)
    clock[0] += 3601
    cache.key_for(URL, "k1", http)
    assert http.calls == 2


def test_unreachable_jwks_is_a_refusal_not_a_crash(clock: list[float]) -> None:
    cache, http = PlatformKeyCache(ttl=3600, refresh_min_interval=60), FakeHttp()
    http.fail = True
    with pytest.raises(LaunchRefused):
        cache.key_for(URL, "k1", http)


def test_a_failed_fetch_is_remembered_for_the_backoff(clock: list[float]) -> None:
    cache = PlatformKeyCache(ttl=3600, refresh_min_interval=60, failure_backoff=30)
    http = FakeHttp()
    http.fail = True
    for _ in range(5):  # a dead platform: one request, then refusals without any
        with pytest.raises(LaunchRefused):
            cache.key_for(URL, "k1", http)
        clock[0] += 1
    assert http.calls == 1
    clock[0] += 30
    http.fail = False
    assert cache.key_for(URL, "k1", http)["kid"] == "k1"
    assert http.calls == 2


def test_expired_keys_still_verify_while_the_platform_is_down(clock: list[float]) -> None:
    cache, http = PlatformKeyCache(ttl=3600, refresh_min_interval=60), FakeHttp()
    cache.key_for(URL, "k1", http)
    clock[0] += 3601
    http.fail = True
    assert cache.key_for(URL, "k1", http)["kid"] == "k1"
    assert cache.key_for(URL, "k1", http)["kid"] == "k1"  # in the back-off: no second request
    assert http.calls == 2
