"""The id_token decoder keeps PyJWT's base64url checks (GHSA-hxm8-2xgr-2p9m) while doing them faster:
for every segment, well-formed or not, it accepts and rejects exactly what PyJWT's own check does."""

from __future__ import annotations

import base64
import random
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError

from lti_tool.lti.id_token import _StrictJWS, decoder


def _outcome(fn, segment: bytes) -> bytes | str:  # type: ignore[no-untyped-def]
    try:
        return fn(segment, "payload")  # type: ignore[no-any-return]
    except DecodeError as exc:
        return f"DecodeError: {exc}"


def _segments() -> list[bytes]:
    rng = random.Random(20261127)
    alphabet = b"ABCXYZabcxyz0189-_"
    junk = b"=!+/ .\n\x00\xff"
    cases = [
        b"",
        b"=",
        b"==",
        b"===",
        b"A",
        b"AA",
        b"AAA",
        b"AAAA",
        b"AA==",
        b"AAA=",
        b"AA=",
        b"A===",
        b"AB",
        b"AQ",
        b"AQ==",
        b"AR",
        b"!!!!",
        b"eyJ",
        b"eyJhIjoxfQ",
        b"eyJhIjoxfQ==",
        b"eyJhIjoxfQ=",
        b"e+J/",
        b"eyJhIjoxfQ\n",
        b"=AAA",
        b"AA=A",
    ]
    for payload in (b"{}", b'{"a":1}', "听课".encode(), bytes(range(40))):
        cases.append(base64.urlsafe_b64encode(payload))
        cases.append(base64.urlsafe_b64encode(payload).rstrip(b"="))
    for _ in range(3000):
        n = rng.randrange(0, 14)
        seg = bytes(rng.choice(alphabet) for _ in range(n))
        if rng.random() < 0.4:
            seg += b"=" * rng.randrange(1, 4)
        if rng.random() < 0.2 and seg:
            i = rng.randrange(len(seg))
            seg = seg[:i] + bytes([rng.choice(junk)]) + seg[i + 1 :]
        cases.append(seg)
    return cases


def test_segment_checks_match_pyjwt_exactly() -> None:
    segments = _segments()
    theirs, ours = PyJWS._decode_base64url_segment, _StrictJWS._decode_base64url_segment
    results = [(_outcome(theirs, s), _outcome(ours, s)) for s in segments]
    assert all(ours == theirs for theirs, ours in results), [
        (s, r) for s, r in zip(segments, results, strict=True) if r[0] != r[1]
    ][:5]
    # the sample exercises both outcomes (a test that only ever accepted would prove nothing)
    assert any(isinstance(r[0], bytes) for r in results) and any(isinstance(r[0], str) for r in results)


def test_the_decoder_uses_the_strict_segment_check() -> None:
    assert isinstance(decoder._jws, _StrictJWS)  # noqa: SLF001


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_decoder_verifies_like_pyjwt(key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    body = {"iss": "i", "aud": "a", "sub": "s", "iat": now, "exp": now + 60}
    token = jwt.encode(body, key, algorithm="RS256")
    options = {"require": ["exp", "iat", "iss", "aud", "sub"]}
    claims = decoder.decode(
        token, key.public_key(), algorithms=["RS256"], audience="a", issuer="i", options=options
    )  # type: ignore[arg-type]
    assert claims["sub"] == "s"
    head, body, sig = token.split(".")
    tampered = [
        f"{head}.{body}!.{sig}",
        f"{head}.{body}.{sig[:-2]}",
        f"{head}.{body[:-1]}.{sig}",
        f"{head}.{body}====.{sig}",
    ]
    for bad in tampered:
        with pytest.raises(jwt.InvalidTokenError):
            decoder.decode(bad, key.public_key(), algorithms=["RS256"], audience="a", issuer="i")
    with pytest.raises(jwt.InvalidAudienceError):
        decoder.decode(token, key.public_key(), algorithms=["RS256"], audience="other", issuer="i")
