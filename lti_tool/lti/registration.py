"""Registering platforms: by hand (CLI) and by LTI Dynamic Registration as Moodle 4.x runs it.

Dynamic registration (IMS LTI Dynamic Registration 1.0): the admin pastes our registration URL into
Moodle's "Tool URL"; Moodle opens it with ``openid_configuration`` (its discovery document) and a
one-time ``registration_token``. We fetch the discovery document (its issuer must match the URL's
origin), post our tool configuration to its ``registration_endpoint`` asking for deep linking, NRPS and
the launcher's name, e-mail and ID number, and store the client id and deployment id Moodle returns. The
page then tells Moodle to close the dialog (``org.imsglobal.lti.close``).

The registration URL carries a per-institution key (an HMAC of the institution code under the app
secret). Without it anyone could point Tingke at an "LMS" of their own, register it for an institution,
and launch as that institution's quality-center staff: a registered platform is trusted to say who the
user is. The key is printed by the CLI and shown to the institution's quality center; the public
configuration page shows only the manual values.

Moodle (mod/lti registration_helper) turns the requested ``claims`` into its privacy settings: ``name``
/ ``given_name`` / ``family_name`` → "share launcher's name", ``email`` → "share e-mail". It has no
setting for the ID number: Moodle sends ``lis.person_sourcedid`` (the user's ID number = 工号) whenever
the user has one. We still list the ``lis`` claim so platforms that honour ``claims`` share it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.config import Settings
from lti_tool.errors import BadRequest, Conflict, Forbidden, LaunchRefused, NotFound
from lti_tool.i18n import N_
from lti_tool.lti.claims import CLAIM_LIS
from lti_tool.lti.http import TimeoutSession
from lti_tool.lti.models import Deployment, Platform
from lti_tool.tenancy import Institution

TOOL_CONFIG_CLAIM = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass
class PlatformSpec:
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    name: str = ""
    auth_audience: str = ""


def _check_url(value: str, field: str) -> str:
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("%(field)s must be an http(s) URL (got '%(value)s').", field=field, value=value)
    return value


KNOWN_REFUSALS = {
    "domain_targetlinkuri_mismatch": N_(
        "The LMS compares the tool's domain with the host and port of its launch URL. Check that "
        "TINGKE_BASE_URL is exactly the address the LMS uses to reach Tingke (with its port)."
    ),
    "unauthorized": N_(
        "The registration token was not accepted: start the registration again from the LMS "
        "(a token is good for one attempt)."
    ),
}


def refusal(status: int, body: str) -> LaunchRefused:
    """The LMS said no: its status and its own words (Moodle answers 400 with a reason code such as
    ``domain_targetlinkuri_mismatch``), plus what to do when the reason is one we know."""
    text = re.sub(r"<[^>]*>", " ", body or "")
    text = " ".join(text.split())[:300] or "—"
    details: list[Any] = []
    for code, advice in KNOWN_REFUSALS.items():
        if code in text.lower():
            details.append(advice)
    return LaunchRefused(
        "The LMS refused the registration request (HTTP %(status)s): %(reason)s",
        details=details,
        status=status,
        reason=text,
    )


def platform_origins(session: Session) -> dict[int, str]:
    """Each registered platform's origin (by platform id): the pages allowed to frame Tingke (web.py)."""
    return {p.id: p.origin for p in session.scalars(select(Platform)) if p.origin}


class RegistrationService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    # -- what the LMS admin needs --------------------------------------------------------------
    def registration_key(self, institution_code: str) -> str:
        """The secret part of an institution's dynamic registration URL (stable across restarts)."""
        secret = self.settings.resolved_secret().encode()
        return hmac.new(
            secret, f"tingke-dynamic-registration:{institution_code}".encode(), hashlib.sha256
        ).hexdigest()[:32]

    def check_registration_key(self, institution_code: str | None, key: str | None) -> None:
        expected = self.registration_key(institution_code) if institution_code else ""
        if not expected or not key or not hmac.compare_digest(expected.encode(), key.encode()):
            raise Forbidden(
                "This registration URL is incomplete: use the full URL (with its key) that `tingke init` "
                "printed or that the quality center's configuration page shows."
            )

    def urls(self, institution_code: str | None = None) -> dict[str, str]:
        base = self.settings.base_url
        register = (
            f"{base}/lti/register/{institution_code}/{self.registration_key(institution_code)}"
            if institution_code
            else f"{base}/lti/register/<INSTITUTION>/<KEY>"
        )
        return {
            "tool_url": f"{base}/lti/launch",
            "login_url": f"{base}/lti/login",
            "redirect_uri": f"{base}/lti/launch",
            "jwks_url": f"{base}/.well-known/jwks.json",
            "deep_linking_url": f"{base}/lti/launch",
            "registration_url": register,
        }

    def domain(self) -> str:
        """The tool's domain for the registration: host, and port when it is not the scheme's default.

        Moodle 5.0 refuses a registration (``domain_targetlinkuri_mismatch``) whose ``domain`` differs from
        the host *and port* of ``target_link_uri`` (docs: tests/fixtures/moodle-5.0/README.md).
        """
        parts = urlsplit(self.settings.base_url)
        host = (parts.hostname or "localhost").lower()
        if ":" in host:  # an IPv6 literal keeps its brackets next to a port
            host = f"[{host}]"
        default = {"http": 80, "https": 443}.get(parts.scheme)
        port = parts.port
        return f"{host}:{port}" if port is not None and port != default else host

    def tool_configuration(self) -> dict:
        urls = self.urls()
        host = self.domain()
        return {
            "application_type": "web",
            "response_types": ["id_token"],
            "grant_types": ["implicit", "client_credentials"],
            "initiate_login_uri": urls["login_url"],
            "redirect_uris": [urls["redirect_uri"]],
            "client_name": "听课 Tingke",
            "jwks_uri": urls["jwks_url"],
            "token_endpoint_auth_method": "private_key_jwt",
            "scope": SCOPE_NRPS,
            TOOL_CONFIG_CLAIM: {
                "domain": host,
                "target_link_uri": urls["tool_url"],
                "claims": ["iss", "sub", "name", "given_name", "family_name", "email", CLAIM_LIS],
                "messages": [
                    {"type": "LtiResourceLinkRequest", "target_link_uri": urls["tool_url"]},
                    {
                        "type": "LtiDeepLinkingRequest",
                        "target_link_uri": urls["tool_url"],
                        "placements": ["ContentArea"],
                    },
                ],
                "description": "领导干部听课制度 — leadership class observation",
            },
        }

    # -- registration ------------------------------------------------------------------------------
    def institution(self, code: str | None) -> Institution:
        if code:
            inst = self.session.scalars(select(Institution).where(Institution.code == code)).first()
            if inst is None:
                raise NotFound("No institution with code %(code)s.", code=code)
            return inst
        insts = list(self.session.scalars(select(Institution).limit(2)))
        if len(insts) != 1:
            raise BadRequest("Several institutions exist: name one (--institution CODE).")
        return insts[0]

    def add_platform(self, institution_code: str | None, spec: PlatformSpec) -> Platform:
        inst = self.institution(institution_code)
        for value, field in (
            (spec.issuer, "issuer"),
            (spec.auth_login_url, "auth-url"),
            (spec.auth_token_url, "token-url"),
            (spec.key_set_url, "jwks-url"),
        ):
            _check_url(value, field)
        if not spec.client_id:
            raise BadRequest("client id must not be empty.")
        platform = self.session.scalars(
            select(Platform).where(Platform.issuer == spec.issuer, Platform.client_id == spec.client_id)
        ).first()
        if platform is not None and platform.institution_id != inst.id:
            raise Conflict("This issuer and client id already belong to another institution.")
        if platform is None:
            platform = Platform(institution_id=inst.id, issuer=spec.issuer, client_id=spec.client_id)
            self.session.add(platform)
        platform.name = spec.name or platform.name or spec.issuer
        platform.auth_login_url = spec.auth_login_url
        platform.auth_token_url = spec.auth_token_url
        platform.key_set_url = spec.key_set_url
        platform.auth_audience = spec.auth_audience
        self.session.flush()
        known = {d.deployment_id for d in platform.deployments}
        for dep in spec.deployment_ids:
            if dep and dep not in known:
                platform.deployments.append(Deployment(deployment_id=dep))
        self.session.flush()
        return platform

    def register(
        self,
        institution_code: str | None,
        openid_configuration: str,
        registration_token: str | None,
        key: str | None = None,
    ) -> Platform:
        """Dynamic registration; ``key`` must be the institution's registration key (checked first)."""
        self.check_registration_key(institution_code, key)
        inst = self.institution(institution_code)
        _check_url(openid_configuration, "openid_configuration")
        http = TimeoutSession(self.settings.http_timeout_seconds)
        try:
            resp = http.get(openid_configuration)
            resp.raise_for_status()
            discovery = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchRefused("The LMS's openid-configuration could not be read.") from exc
        if not isinstance(discovery, dict):
            raise LaunchRefused("The LMS's openid-configuration could not be read.")
        issuer = str(discovery.get("issuer", ""))
        theirs, asked = urlsplit(issuer), urlsplit(openid_configuration)
        if not theirs.netloc or (theirs.scheme, theirs.netloc) != (asked.scheme, asked.netloc):
            raise LaunchRefused("The openid-configuration's issuer does not match its address.")
        endpoint = str(discovery.get("registration_endpoint", ""))
        _check_url(endpoint, "registration_endpoint")
        headers = {"Content-Type": "application/json"}
        if registration_token:
            headers["Authorization"] = f"Bearer {registration_token}"
        try:
            reply = http.post(endpoint, json=self.tool_configuration(), headers=headers)
        except requests.RequestException as exc:
            raise LaunchRefused("The LMS refused the registration request.") from exc
        if not reply.ok:
            raise refusal(reply.status_code, reply.text)
        try:
            registered = reply.json()
        except ValueError as exc:
            raise LaunchRefused("The LMS refused the registration request.") from exc
        if not isinstance(registered, dict):
            raise LaunchRefused("The LMS refused the registration request.")
        tool_conf = registered.get(TOOL_CONFIG_CLAIM)
        tool_conf = tool_conf if isinstance(tool_conf, dict) else {}
        platform_conf = discovery.get("https://purl.imsglobal.org/spec/lti-platform-configuration")
        platform_conf = platform_conf if isinstance(platform_conf, dict) else {}
        spec = PlatformSpec(
            issuer=issuer,
            client_id=str(registered.get("client_id", "")),
            deployment_ids=[str(tool_conf["deployment_id"])] if tool_conf.get("deployment_id") else [],
            auth_login_url=str(discovery.get("authorization_endpoint", "")),
            auth_token_url=str(discovery.get("token_endpoint", "")),
            key_set_url=str(discovery.get("jwks_uri", "")),
            name=str(platform_conf.get("product_family_code", "")) or issuer,
            auth_audience=str(discovery.get("authorization_server", "") or ""),
        )
        return self.add_platform(inst.code, spec)
