"""The id_token decoder: PyJWT, with its base64url check done by one regular expression.

PyJWT (≥ 2.10, GHSA-hxm8-2xgr-2p9m) rejects token segments with characters outside the base64url
alphabet by running a Python generator over every character of the token. A launch's id_token has about
1,500 characters, so that check alone cost about two thirds of ``jwt.decode`` (0.2 of 0.3 ms), more than
the RSA signature check. ``_StrictJWS`` does the same checks, in the same order and with the same errors,
with a regular expression: same alphabet, at most two ``=`` that complete a quantum, no length ≡ 1 (mod 4),
and a canonical encoding. tests/unit/lti/test_id_token.py compares both on many malformed segments.

Everything else (signature, algorithms, ``exp``/``iat``/``nbf``, ``aud``, ``iss``, required claims) is
PyJWT's own code. Should PyJWT rename the hook, the override is simply not used and the decoder falls back
to PyJWT's own, slower, check: never a weaker one.
"""

from __future__ import annotations

import binascii
import re

import jwt
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*={0,2}")


class _StrictJWS(PyJWS):
    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        if _SEGMENT.fullmatch(segment) is None:  # a foreign character, or more than two '='
            raise DecodeError(f"Invalid {name} padding")
        stripped = segment.rstrip(b"=")
        if (len(stripped) != len(segment) and len(segment) % 4 != 0) or len(stripped) % 4 == 1:
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded


def _decoder() -> jwt.PyJWT:
    decoder = jwt.PyJWT()
    if isinstance(getattr(decoder, "_jws", None), PyJWS) and hasattr(PyJWS, "_decode_base64url_segment"):
        decoder._jws = _StrictJWS(options=decoder._get_sig_options())  # noqa: SLF001
    return decoder


decoder = _decoder()
"""Use ``decoder.decode(...)`` exactly like ``jwt.decode(...)``."""
