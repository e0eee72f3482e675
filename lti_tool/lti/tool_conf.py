"""pylti1p3's tool configuration, backed by ``Platform`` and ``Deployment`` rows.

Every issuer is treated as "many client ids" so that two Moodle sites (or one site registered twice)
never collide. The tool's newest key is set on each registration so that pylti1p3 signs client
assertions and deep-linking responses with a ``kid`` that our JWKS publishes.

Every login and launch looks its platform up (pylti1p3 asks up to three times per request), so found
registrations are kept per process (``PlatformDirectory``) for ``PLATFORM_CACHE_SECONDS``:

- Only hits are kept: an unknown issuer, client id or deployment id is looked up again every time, so a
  platform or deployment registered by another process (the CLI, another gunicorn worker) works at once.
- Any insert, update or delete of a ``Platform`` or ``Deployment`` through the ORM in this process
  (``RegistrationService``, the CLI, tests) empties the cache, at the flush and again after the commit.
- A change made by *another* process (``tingke platform add`` re-registering an LMS with a new JWKS URL)
  reaches a running worker within ``PLATFORM_CACHE_SECONDS`` (30 s). Nothing ever deletes a platform.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import event, select
from sqlalchemy.orm import Session, object_session

from lti_tool.lti.keys import KeyService
from lti_tool.lti.models import Deployment, Platform, ToolKey

PLATFORM_CACHE_SECONDS = 30.0

_loaded: dict[str, tuple[RSAPrivateKey, str]] = {}
_loaded_lock = threading.Lock()


def _loaded_key(key: ToolKey) -> tuple[RSAPrivateKey, str]:
    """The tool key parsed once per process, by kid.

    Parsing an RSA private key PEM costs ~0.1 s with OpenSSL 3's consistency checks; every deep-linking
    response and NRPS call signs with it. The check is skipped because Tingke generated the key itself
    (keys.py).
    """
    with _loaded_lock:
        hit = _loaded.get(key.kid)
        if hit is None:
            private = serialization.load_pem_private_key(
                key.private_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
            )
            assert isinstance(private, RSAPrivateKey)
            public_pem = (
                private.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode()
            )
            hit = _loaded[key.kid] = (private, public_pem)
        return hit


@dataclass(frozen=True)
class PlatformInfo:
    """What a login or launch needs of a registration: a plain snapshot, safe to share between requests
    (an ORM ``Platform`` belongs to one session). Attribute names match ``Platform``'s."""

    id: int
    institution_id: int
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str
    deployment_ids: frozenset[str]


class PlatformDirectory:
    """Registrations found by (database, issuer, client id), kept for a short time; see the module doc."""

    def __init__(self, ttl: float = PLATFORM_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[Any, str, str], tuple[float, int, PlatformInfo]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, session: Session, iss: str, client_id: str) -> PlatformInfo | None:
        key = (session.bind, iss, client_id)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now and hit[1] == self._generation:
            return hit[2]
        generation = self._generation  # read before the query: an invalidation meanwhile wins
        info = self.load(session, iss, client_id)
        if info is not None:
            with self._lock:
                if generation == self._generation:
                    self._entries[key] = (now + self.ttl, generation, info)
        return info

    @staticmethod
    def load(session: Session, iss: str, client_id: str) -> PlatformInfo | None:
        row = session.execute(
            select(Platform.__table__).where(Platform.issuer == iss, Platform.client_id == client_id)
        ).first()
        if row is None:
            return None
        deployments = session.scalars(
            select(Deployment.deployment_id).where(Deployment.platform_id == row.id)
        ).all()
        return PlatformInfo(
            id=row.id,
            institution_id=row.institution_id,
            name=row.name,
            issuer=row.issuer,
            client_id=row.client_id,
            auth_login_url=row.auth_login_url,
            auth_token_url=row.auth_token_url,
            key_set_url=row.key_set_url,
            auth_audience=row.auth_audience or "",
            deployment_ids=frozenset(deployments),
        )


platforms = PlatformDirectory()


def _registration_changed(_mapper: Any, _connection: Any, target: Any) -> None:
    """A platform or deployment row was written: forget now, and again once that transaction commits
    (a request in another thread may have re-read the old row in between)."""
    platforms.invalidate()
    session = object_session(target)
    if session is not None and not session.info.get("tingke.platforms_dirty"):
        session.info["tingke.platforms_dirty"] = True

        def after_commit(s: Session) -> None:  # (after a rollback it stays pending: harmless)
            s.info.pop("tingke.platforms_dirty", None)
            platforms.invalidate()

        event.listen(session, "after_commit", after_commit, once=True)


for _model in (Platform, Deployment):
    for _event in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _event, _registration_changed)


class _DbRegistration(Registration):
    """A pylti1p3 registration that loads the tool's signing key only when something is signed.

    Logins and launches validate and sign nothing; only deep-linking responses and NRPS client assertions
    need the key, so selecting and parsing it on every request would be wasted work.
    """

    def __init__(self, key_loader: Callable[[], tuple[RSAPrivateKey, str]]) -> None:
        self._key_loader = key_loader
        self._key: tuple[RSAPrivateKey, str] | None = None

    def _tool_key(self) -> tuple[RSAPrivateKey, str]:
        if self._key is None:
            self._key = self._key_loader()
        return self._key

    def get_tool_private_key(self) -> Any:
        # pylti1p3 hands it straight to jwt.encode, which takes a loaded key as well as a PEM.
        return self._tool_key()[0]

    def get_tool_public_key(self) -> str:
        return self._tool_key()[1]


class DbToolConf(ToolConfAbstract):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.issuers_relation_types = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> PlatformInfo | None:
        if client_id:
            return platforms.get(self.session, iss, client_id)
        # A login request without client_id is only unambiguous when the issuer registered once. Rare
        # (Moodle always sends client_id), so it is not cached.
        candidates = self.session.scalars(
            select(Platform.client_id).where(Platform.issuer == iss).limit(2)
        ).all()
        return platforms.get(self.session, iss, candidates[0]) if len(candidates) == 1 else None

    def registration_for(self, platform: Platform | PlatformInfo) -> Registration:
        session = self.session

        def load_key() -> tuple[RSAPrivateKey, str]:
            return _loaded_key(KeyService(session).signing_key())

        reg = _DbRegistration(load_key)
        reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
        reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
        reg.set_key_set_url(platform.key_set_url)
        if platform.auth_audience:
            reg.set_auth_audience(platform.auth_audience)
        return reg

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        platform = self.platform(iss, None)
        return self.registration_for(platform) if platform else None  # type: ignore[return-value]

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        platform = self.platform(iss, client_id)
        return self.registration_for(platform) if platform else None  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)  # type: ignore[arg-type]

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = self.platform(iss, client_id)
        if platform is None:
            return None
        if deployment_id not in platform.deployment_ids:
            # Not cached yet (a deployment added since): ask the database, never trust a miss.
            found = self.session.scalar(
                select(Deployment.id).where(
                    Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
                )
            )
            if found is None:
                return None
        return LtiDeployment().set_deployment_id(deployment_id)
