"""A platform simulator: plays the LMS over real HTTP on loopback.

It has its own RSA keys and JWKS, signs id_tokens, answers OIDC authentication requests with the
auto-posting form an LMS returns, issues OAuth2 access tokens (checking the tool's signed client
assertion against the tool's JWKS), serves Names and Role Provisioning memberships, the openid
configuration and registration endpoint of LTI Dynamic Registration, and an LMS-like course page that
launches the tool into an iframe (for browser tests).
"""

from __future__ import annotations

import html
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"


_KEY_POOL: list[tuple[str, dict]] = []
_key_turn = itertools.count()


def pooled_rsa_key() -> tuple[str, dict]:
    """A platform key from a small per-process pool: RSA generation is the slowest part of a test, and
    consecutive simulators (two LMSs in one test) still get different keys."""
    if not _KEY_POOL:
        _KEY_POOL.extend(new_rsa_key() for _ in range(3))
    return _KEY_POOL[next(_key_turn) % len(_KEY_POOL)]


def new_rsa_key() -> tuple[str, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = JWK.from_pem(pem.encode())
    public = json.loads(jwk.export_public())
    public.update(kid=jwk.thumbprint(), alg="RS256", use="sig")
    return pem, public


@dataclass
class LmsUser:
    sub: str
    name: str = ""
    email: str = ""
    sourcedid: str = ""
    roles: list[str] = field(default_factory=lambda: [ROLE_INSTRUCTOR])


class PlatformSimulator:
    """One simulated LMS. ``start()`` binds 127.0.0.1 on a free port."""

    def __init__(
        self, client_id: str = "tingke-client", deployment_id: str = "1", host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.pem, self.public_jwk = pooled_rsa_key()
        self.kid = self.public_jwk["kid"]
        self.jwks_requests = 0
        self.token_requests: list[dict] = []
        self.registrations: list[dict] = []
        self.deep_link_returns: list[dict] = []
        self.members: dict[str, list[dict]] = {}
        self.tool_base = ""
        self.tool_jwks_url = ""
        self.pending_users: dict[str, LmsUser] = {}
        self.context = {"id": "course-1", "label": "C1", "title": "Course 1"}
        self.extra_claims: dict[str, Any] = {}
        self._server = None
        self._thread: threading.Thread | None = None
        self.base = ""

    # -- server ----------------------------------------------------------------------------------------
    def start(self) -> PlatformSimulator:
        self._server = make_server(self.host, 0, self._wsgi, threaded=True)
        self.base = f"http://{self.host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()

    @property
    def issuer(self) -> str:
        return self.base

    @property
    def urls(self) -> dict[str, str]:
        return {
            "auth": f"{self.base}/auth",
            "token": f"{self.base}/token",
            "jwks": f"{self.base}/jwks",
            "openid": f"{self.base}/.well-known/openid-configuration",
            "register": f"{self.base}/register",
        }

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        handler = {
            "/jwks": self._jwks,
            "/token": self._token,
            "/auth": self._auth,
            "/.well-known/openid-configuration": self._openid,
            "/register": self._register,
            "/deep-link-return": self._deep_link_return,
            "/course": self._course_page,
            "/launch-frame": self._launch_frame,
            "/embed": self._embed_page,
        }.get(request.path)
        if handler is None and request.path.startswith("/nrps/"):
            handler = self._nrps
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    # -- tokens ----------------------------------------------------------------------------------------
    def claims(
        self,
        user: LmsUser,
        nonce: str,
        *,
        message_type: str = "LtiResourceLinkRequest",
        target_link_uri: str | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": user.name,
            "email": user.email,
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": target_link_uri or f"{self.tool_base}/lti/launch",
            LTI + "roles": user.roles,
            LTI + "context": dict(self.context),
            LTI + "lis": {
                "person_sourcedid": user.sourcedid,
                "course_offering_sourcedid": self.context["label"],
            },
            LTI + "tool_platform": {"guid": "sim", "name": "Simulated LMS", "product_family_code": "moodle"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.base}/nrps/{self.context['id']}",
                "service_versions": ["2.0"],
            },
        }
        if message_type == "LtiResourceLinkRequest":
            body[LTI + "resource_link"] = {"id": "link-1", "title": "Tingke"}
        else:
            body["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.base}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": "dl-data-1",
            }
        body.update(self.extra_claims)
        for key, value in overrides.items():
            if value is _DELETE:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    def sign(
        self,
        body: dict[str, Any],
        *,
        kid: str | None = None,
        pem: str | None = None,
        alg: str = "RS256",
        headers: dict | None = None,
    ) -> str:
        hdr = {"kid": kid or self.kid}
        hdr.update(headers or {})
        return jwt.encode(body, pem or self.pem, algorithm=alg, headers=hdr)

    # -- endpoints -------------------------------------------------------------------------------------
    def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        return Response(json.dumps({"keys": [self.public_jwk]}), content_type="application/json")

    def _auth(self, request: Request) -> Response:
        """OIDC authentication: answer with a form that posts the id_token to redirect_uri."""
        args = request.args if request.method == "GET" else request.form
        user = self.pending_users.get(args.get("login_hint", ""))
        if user is None:
            return Response("unknown login_hint", status=400)
        message_type = (
            "LtiDeepLinkingRequest" if args.get("lti_message_hint") == "deep" else "LtiResourceLinkRequest"
        )
        token = self.sign(self.claims(user, args["nonce"], message_type=message_type))
        form = (
            f'<form id="f" method="post" action="{html.escape(args["redirect_uri"])}">'
            f'<input type="hidden" name="id_token" value="{token}">'
            f'<input type="hidden" name="state" value="{html.escape(args["state"])}"></form>'
            '<script>document.getElementById("f").submit()</script>'
        )
        return Response(f"<!doctype html><html><body>{form}</body></html>", content_type="text/html")

    def _token(self, request: Request) -> Response:
        assertion = request.form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            keys = requests.get(self.tool_jwks_url, timeout=5).json()["keys"]
            key = next(k for k in keys if k["kid"] == header.get("kid"))
            jwt.decode(
                assertion,
                JWK(**key).export_to_pem(),
                algorithms=["RS256"],
                audience=[self.urls["token"], self.issuer],
            )
        except Exception as exc:  # the simulator answers like an LMS would: 400 with a reason
            return Response(
                json.dumps({"error": "invalid_client", "reason": str(exc)}),
                status=400,
                content_type="application/json",
            )
        self.token_requests.append(dict(request.form))
        return Response(
            json.dumps(
                {
                    "access_token": "tok-" + uuid.uuid4().hex,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": request.form.get("scope", ""),
                }
            ),
            content_type="application/json",
        )

    def _nrps(self, request: Request) -> Response:
        if not request.headers.get("Authorization", "").startswith("Bearer tok-"):
            return Response("unauthorized", status=401)
        context_id = request.path.rsplit("/", 1)[-1]
        body = {"id": request.url, "context": {"id": context_id}, "members": self.members.get(context_id, [])}
        return Response(
            json.dumps(body), content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        )

    def _openid(self, request: Request) -> Response:
        return Response(
            json.dumps(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.urls["auth"],
                    "token_endpoint": self.urls["token"],
                    "jwks_uri": self.urls["jwks"],
                    "registration_endpoint": self.urls["register"],
                    "scopes_supported": ["openid"],
                    "response_types_supported": ["id_token"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "claims_supported": ["sub", "iss", "name", "email"],
                    "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                        "product_family_code": "moodle",
                        "version": "4.5",
                        "messages_supported": [
                            {"type": "LtiResourceLinkRequest"},
                            {"type": "LtiDeepLinkingRequest"},
                        ],
                    },
                }
            ),
            content_type="application/json",
        )

    def _register(self, request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer reg-token":
            return Response("bad registration token", status=401)
        conf = request.get_json()
        self.registrations.append(conf)
        # Moodle 5.0 (mod/lti/openid-registration.php): the tool's domain must be the host *and port* of its
        # target_link_uri, or it answers 400 with the reason code as the body
        # (tests/fixtures/moodle-5.0/README.md).
        tool = conf.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
        target = urlsplit(str(tool.get("target_link_uri", "")))
        if str(tool.get("domain", "")).lower() != target.netloc.lower():
            return Response("domain_targetlinkuri_mismatch", status=400)
        reply = dict(conf)
        reply["client_id"] = self.client_id
        reply["https://purl.imsglobal.org/spec/lti-tool-configuration"] = dict(
            conf["https://purl.imsglobal.org/spec/lti-tool-configuration"], deployment_id=self.deployment_id
        )
        return Response(json.dumps(reply), content_type="application/json")

    def _deep_link_return(self, request: Request) -> Response:
        self.deep_link_returns.append({"JWT": request.form.get("JWT", "")})
        return Response("<p id='dl-done'>content added</p>", content_type="text/html")

    def _course_page(self, request: Request) -> Response:
        """An LMS-like course page on the simulator's origin that frames the tool's launch."""
        hint = request.args.get("user", "")
        return Response(
            "<!doctype html><html><body><h1>LMS course</h1>"
            f'<iframe id="tool" name="tool" style="width:1000px;height:900px" '
            f'src="/launch-frame?user={html.escape(hint)}"></iframe></body></html>',
            content_type="text/html",
        )

    def _embed_page(self, request: Request) -> Response:
        """A page on the LMS's site framing any URL (browser tests probe third-party cookie behaviour)."""
        src = request.args.get("src", "about:blank")
        return Response(
            f'<!doctype html><html><body><iframe id="embedded" src="{html.escape(src)}"></iframe>'
            "</body></html>",
            content_type="text/html",
        )

    def _launch_frame(self, request: Request) -> Response:
        """What Moodle's launch.php does: auto-post the third-party login initiation to the tool."""
        params = {
            "iss": self.issuer,
            "login_hint": request.args.get("user", ""),
            "client_id": self.client_id,
            "target_link_uri": f"{self.tool_base}/lti/launch",
            "lti_message_hint": "resource",
            "lti_deployment_id": self.deployment_id,
        }
        inputs = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in params.items()
        )
        return Response(
            "<!doctype html><html><body>"
            f'<form id="f" method="post" action="{self.tool_base}/lti/login">'
            f"{inputs}</form>"
            '<script>document.getElementById("f").submit()</script></body></html>',
            content_type="text/html",
        )

    # -- helpers for tests -------------------------------------------------------------------------------
    def login_params(self, user: LmsUser, **extra: str) -> dict[str, str]:
        self.pending_users[user.sub] = user
        params = {
            "iss": self.issuer,
            "login_hint": user.sub,
            "client_id": self.client_id,
            "target_link_uri": f"{self.tool_base}/lti/launch",
            "lti_message_hint": "resource",
            "lti_deployment_id": self.deployment_id,
        }
        params.update(extra)
        return params


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


_DELETE = _Delete()
DELETE = _DELETE


def auth_request_params(location: str) -> dict[str, str]:
    """The query of the tool's redirect to the platform's authentication endpoint."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def encode_query(params: dict[str, str]) -> str:
    return urlencode(params)
