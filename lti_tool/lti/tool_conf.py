"""pylti1p3's tool configuration, backed by ``Platform`` and ``Deployment`` rows.

Every issuer is treated as "many client ids" so that two Moodle sites (or one site registered twice)
never collide. The tool's newest key is set on each registration so that pylti1p3 signs client
assertions and deep-linking responses with a ``kid`` that our JWKS publishes.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.keys import KeyService
from lti_tool.lti.models import Deployment, Platform, ToolKey

_loaded: dict[str, tuple[RSAPrivateKey, str]] = {}
_loaded_lock = threading.Lock()


def _loaded_key(key: ToolKey) -> tuple[RSAPrivateKey, str]:
    """The tool key parsed once per process, by kid.

    Parsing an RSA private key PEM costs ~0.1 s with OpenSSL 3's consistency checks, and every login and
    launch builds a registration: uncached, that alone would cap a worker at a few launches per second.
    The check is skipped because Tingke generated the key itself (keys.py).
    """
    with _loaded_lock:
        hit = _loaded.get(key.kid)
        if hit is None:
            private = serialization.load_pem_private_key(key.private_pem.encode(), password=None,
                                                         unsafe_skip_rsa_key_validation=True)
            assert isinstance(private, RSAPrivateKey)
            public_pem = private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            hit = _loaded[key.kid] = (private, public_pem)
        return hit


class DbToolConf(ToolConfAbstract):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.issuers_relation_types = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> Platform | None:
        query = select(Platform).where(Platform.issuer == iss)
        if client_id:
            return self.session.scalars(query.where(Platform.client_id == client_id)).first()
        candidates = list(self.session.scalars(query.limit(2)))
        # A login request without client_id is only unambiguous when the issuer registered once.
        return candidates[0] if len(candidates) == 1 else None

    def registration_for(self, platform: Platform) -> Registration:
        key = KeyService(self.session).signing_key()
        private, public_pem = _loaded_key(key)
        reg = Registration()
        reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
        reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
        reg.set_key_set_url(platform.key_set_url)
        if platform.auth_audience:
            reg.set_auth_audience(platform.auth_audience)
        # pylti1p3 hands the private key straight to jwt.encode, which takes a loaded key as well as a PEM.
        reg.set_tool_private_key(private)  # type: ignore[arg-type]
        reg.set_tool_public_key(public_pem)
        return reg

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        platform = self.platform(iss, None)
        return self.registration_for(platform) if platform else None  # type: ignore[return-value]

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any,
                                    **kwargs: Any) -> Registration:
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
        row = self.session.scalars(
            select(Deployment).where(Deployment.platform_id == platform.id,
                                     Deployment.deployment_id == deployment_id)
        ).first()
        return LtiDeployment().set_deployment_id(deployment_id) if row else None
