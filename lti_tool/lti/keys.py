"""The tool's own signing keys and its public JWKS.

``tingke init`` creates the first key; ``tingke keys add`` adds a newer one. Every stored key is published
in /.well-known/jwks.json until removed (so platforms holding a token signed by the old key can still
verify it during rotation); the newest key signs. The ``kid`` is the RFC 7638 thumbprint, which is also
what pylti1p3 derives from a PEM, so client assertions and deep-linking responses carry a ``kid`` that the
platform finds in our JWKS.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lti_tool.errors import Conflict, NotFound
from lti_tool.lti.models import ToolKey


def _new_key() -> tuple[str, str, dict]:
    while True:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = JWK.from_pyca(private)  # not from_pem: re-parsing the PEM would re-run OpenSSL's slow key check
        kid = jwk.thumbprint()
        # A base64url thumbprint may start with "-", which a shell command (`tingke keys remove KID`) would
        # take for an option: such a key is simply generated again (1 in 64).
        if not kid.startswith("-"):
            break
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = json.loads(jwk.export_public())
    public.update(kid=kid, alg="RS256", use="sig")
    return kid, pem, public


class KeyService:
    """Creates, lists and removes the tool's keys."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure_key(self) -> ToolKey:
        """The signing key, created when none exists (idempotent: ``tingke init`` may run twice)."""
        key = self.current()
        return key if key is not None else self.add()

    def add(self) -> ToolKey:
        kid, pem, public = _new_key()
        key = ToolKey(kid=kid, private_pem=pem, public_jwk=public)
        self.session.add(key)
        self.session.flush()
        return key

    def current(self) -> ToolKey | None:
        return self.session.scalars(select(ToolKey).order_by(ToolKey.id.desc()).limit(1)).first()

    def signing_key(self) -> ToolKey:
        key = self.current()
        if key is None:
            raise NotFound("The tool has no signing key yet: run `tingke init`.")
        return key

    def all(self) -> list[ToolKey]:
        return list(self.session.scalars(select(ToolKey).order_by(ToolKey.id)))

    def remove(self, kid: str) -> None:
        key = self.session.scalars(select(ToolKey).where(ToolKey.kid == kid)).first()
        if key is None:
            raise NotFound("No key with kid %(kid)s.", kid=kid)
        if self.session.scalar(select(func.count()).select_from(ToolKey)) == 1:
            raise Conflict("The last key cannot be removed: add a new key first.")
        self.session.delete(key)

    def jwks(self) -> dict:
        return {"keys": [k.public_jwk for k in self.all()]}


def published_jwks(engine: Engine) -> dict:
    """The JWKS, read without taking SQLite's write lock.

    Why: on SQLite every session transaction starts with ``BEGIN IMMEDIATE`` (db.py), so a request that
    calls an LMS holds the write lock meanwhile. When that call is an OAuth2 token request (NRPS), the
    LMS verifies our client assertion by fetching this JWKS *during* the call; a JWKS view that needed the
    lock would wait for the very request that waits for it. A plain autocommit SELECT in WAL mode reads
    the last committed keys without any lock. PostgreSQL has no such problem and uses a normal session.
    """
    if engine.dialect.name != "sqlite":
        with Session(engine) as session:
            return KeyService(session).jwks()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT public_jwk FROM tool_key ORDER BY id")  # isolation_level None: no BEGIN
        rows = cursor.fetchall()
        cursor.close()
    finally:
        raw.close()
    return {"keys": [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]}
