"""An LMS built from ``lti1p3platform`` (PyPI), an LTI 1.3 *platform* implementation none of us wrote.

Why: our own simulator (platform.py) builds its id_tokens with our understanding of the spec, so a launch
it makes proves only that Tingke agrees with itself. Here every protocol message comes from the library:
the third-party login initiation URL (``OIDCLoginAbstract.prepare_preflight_url``), the check of the
tool's authentication request and the signed id_token (``LTIAdvantageMessageLaunchAbstract``, with its
deep-linking and NRPS claims), the platform JWKS (``Registration.get_jwks``: kid = RFC 7638
thumbprint), the OAuth2 token endpoint checking the tool's client assertion against the tool's JWKS
(``get_access_token``), the Names and Role service (``NamesRoleProvisioningService``) and the check of the
tool's deep-linking response (``validate_deeplinking_resp``).

What this module adds is only what the library leaves abstract: how a web request and a response look
(werkzeug), who the logged-in user is, what the course is, and the checks the library leaves to the
platform: the ``redirect_uri`` is the tool's registered launch URL, the ``login_hint`` names the user whose
login started, and the OIDC parameters are those of LTI 1.3 core §5.1.1.2 (``scope=openid``,
``response_type=id_token``, ``response_mode=form_post``, ``prompt=none``).
"""

from __future__ import annotations

import functools
import html
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.exceptions import LtiException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as LibraryRequest
from lti1p3platform.request import TRequest
from lti1p3platform.response import Response as LibraryResponse
from lti1p3platform.service_connector import NamesRoleProvisioningService, TPage
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
RESOURCE, DEEP = "resource", "deep"


@functools.cache
def _platform_key_pair() -> tuple[str, str]:
    """One RSA key pair (private PKCS#8 PEM, public PEM) per test process: generating one is slow."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@dataclass
class ForeignUser:
    """An account of the foreign LMS; ``sourcedid`` is what Moodle calls the ID number (= 工号)."""

    user_id: str
    name: str
    email: str = ""
    sourcedid: str = ""
    roles: list[str] = field(default_factory=lambda: [ROLE_INSTRUCTOR])


@dataclass
class DeepLinkReturn:
    """What the LMS made of a deep-linking response the tool sent back."""

    status: int
    payload: dict[str, Any] = field(default_factory=dict)
    content_items: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


class _WerkzeugRequest(LibraryRequest):
    """The library's request interface over a werkzeug request (it ships Django and FastAPI ones)."""

    def build_metadata(self, request: Request) -> TRequest:
        is_json = request.mimetype.endswith("json")
        return {
            "method": request.method,
            "form_data": request.form.to_dict(),
            "get_data": request.args.to_dict(),
            "headers": request.headers,
            "content_type": request.content_type,
            "path": request.path,
            "json": request.get_json(silent=True) if is_json else None,
        }


class _PlatformConf(LTI1P3PlatformConfAbstract):
    """One registration (this LMS ↔ Tingke); a new instance per request, as the library keeps the JWT it
    is checking on the instance."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        assert self._registration is not None
        return self._registration


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> Response:
        return Response(status=302, headers={"Location": url})


class _Launch(LTIAdvantageMessageLaunchAbstract):
    """The LMS's answer to the tool's authentication request: the library checks nonce, state,
    redirect_uri and client_id are present; this LMS checks what the library leaves to it, then fills in
    the user, the course and the services."""

    def __init__(self, request: _WerkzeugRequest, platform_config: _PlatformConf, lms: ForeignLms) -> None:
        super().__init__(request, platform_config)
        self._lms = lms

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        lms = self._lms
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "redirect_uri": lms.tool_launch_url,
        }
        wrong = {k: preflight_response.get(k) for k, v in expected.items() if preflight_response.get(k) != v}
        if wrong:
            raise LtiException(f"authentication request parameters not as LTI 1.3 requires: {wrong}")
        user = lms.users.get(str(preflight_response.get("login_hint")))
        hint = str(preflight_response.get("lti_message_hint"))
        if user is None or hint not in (RESOURCE, DEEP):
            raise LtiException("login_hint or lti_message_hint is not one this LMS issued")
        self.set_user_data(user.user_id, user.roles, full_name=user.name, email_address=user.email or None)
        if user.sourcedid:
            self.set_extra_claims(
                {
                    LTI + "lis": {
                        "person_sourcedid": user.sourcedid,
                        "course_offering_sourcedid": lms.course["label"],
                    }
                }
            )
        self.set_launch_context_claim(
            lms.course["id"],
            ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            lms.course["title"],
            lms.course["label"],
        )
        self.set_launch_presentation_claim("iframe", f"{lms.base}/course/{lms.course['id']}")
        self.set_nrps(lms.memberships_url)
        if hint == DEEP:
            self.set_dl(
                f"{lms.base}/deep-link-return",
                title="Add Tingke",
                accept_types={"ltiResourceLink"},
                extra_data=lms.deep_link_data,
            )
        else:
            self.set_resource_link_claim(lms.resource_link_id, title="听课 Tingke")

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Response:
        """The auto-posting form of the library's template (framework/templates/launch.html), written out
        here: the module that loads that template imports the deprecated ``pkg_resources``."""
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(str(launch_data[name]))}">'
            for name in ("id_token", "state")
        )
        return Response(
            f'<!doctype html><html><body><form method="POST" action="'
            f'{html.escape(str(launch_data["launch_url"]))}" id="form">{fields}</form>'
            '<script>document.getElementById("form").submit();</script></body></html>',
            content_type="text/html",
        )


class _Memberships(NamesRoleProvisioningService):
    def __init__(self, request: _WerkzeugRequest, platform_config: _PlatformConf, lms: ForeignLms) -> None:
        super().__init__(request, platform_config, lms.memberships_url)
        self._lms = lms

    def get_context_by_id(self) -> Context:
        course = self._lms.course
        return Context(id=course["id"], label=course["label"], title=course["title"])

    def get_member_data_page(
        self, page: int = 1, limit: int | None = None, role: str | None = None, since: str | None = None
    ) -> TPage:
        return {"content": [dict(m) for m in self._lms.members], "has_next": False, "next": None}


def _json(status: int, body: Any, content_type: str = "application/json") -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type)


def _library_response(answer: LibraryResponse) -> Response:
    if 200 <= answer.code < 300:
        return _json(answer.code, answer.result, answer.media_type)
    return _json(answer.code, {"error": answer.message})


class ForeignLms:
    """The LMS on a free loopback port. ``tool_base`` is Tingke's base URL (its launch and JWKS URLs)."""

    def __init__(
        self,
        tool_base: str,
        client_id: str = "tingke-at-foreign-lms",
        deployment_id: str = "foreign-deployment-7",
    ) -> None:
        self.tool_base = tool_base
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.private_pem, self.public_pem = _platform_key_pair()
        self.users: dict[str, ForeignUser] = {}
        self.course = {"id": "course-42", "label": "MATH101", "title": "高等数学"}
        self.resource_link_id = "resource-link-42"
        self.deep_link_data: dict[str, Any] | None = None
        self.members: list[dict[str, Any]] = []
        self.jwks_requests = 0
        self.token_requests = 0
        self.deep_link_returns: list[DeepLinkReturn] = []
        self.base = ""
        self._registration: Registration | None = None
        self._server: Any = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> ForeignLms:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._registration = (
            Registration()
            .set_iss(self.base)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_launch_url(self.tool_launch_url)
            .set_deeplink_launch_url(self.tool_launch_url)
            .set_oidc_login_url(f"{self.tool_base}/lti/login")
            .set_tool_key_set_url(f"{self.tool_base}/.well-known/jwks.json")
            .set_platform_public_key(self.public_pem)
            .set_platform_private_key(self.private_pem)
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- what an administrator copies into the tool ----------------------------------------------------
    @property
    def issuer(self) -> str:
        return self.base

    @property
    def tool_launch_url(self) -> str:
        return f"{self.tool_base}/lti/launch"

    @property
    def memberships_url(self) -> str:
        return f"{self.base}/nrps/{self.course['id']}"

    @property
    def urls(self) -> dict[str, str]:
        return {"auth": f"{self.base}/auth", "token": f"{self.base}/token", "jwks": f"{self.base}/jwks"}

    def start_url(self, user: ForeignUser, kind: str = RESOURCE) -> str:
        """The link a logged-in user clicks in the course: it starts the third-party login."""
        self.users[user.user_id] = user
        return f"{self.base}/start?{urlencode({'user': user.user_id, 'kind': kind})}"

    # -- endpoints -------------------------------------------------------------------------------------
    def _conf(self) -> _PlatformConf:
        return _PlatformConf(registration=self._registration)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        handler = {
            "/jwks": self._jwks,
            "/start": self._start,
            "/auth": self._auth,
            "/token": self._token,
            "/deep-link-return": self._deep_link_return,
        }.get(request.path)
        if handler is None and request.path == f"/nrps/{self.course['id']}":
            handler = self._nrps
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        return _json(200, self._conf().get_jwks())

    def _start(self, request: Request) -> Response:
        login = _Login(_WerkzeugRequest(request), self._conf())
        kind = request.args.get("kind", RESOURCE)
        login.set_lti_message_hint(hint=kind)
        if kind == DEEP:
            login.set_deeplinking_launch_url()
        return login.initiate_login(request.args["user"])

    def _auth(self, request: Request) -> Response:
        launch = _Launch(_WerkzeugRequest(request), self._conf(), self)
        try:
            return launch.lti_launch()
        except Exception as exc:  # the library raises bare exceptions; an LMS answers 400 with the reason
            return Response(f"authentication request refused: {exc!r}", status=400)

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        try:
            return _json(200, self._conf().get_access_token(request.form.to_dict()))
        except Exception as exc:  # MissingRequiredClaim, UnsupportedGrantType, PyJWT errors …
            return _json(400, {"error": "invalid_client", "error_description": repr(exc)})

    def _nrps(self, request: Request) -> Response:
        service = _Memberships(_WerkzeugRequest(request), self._conf(), self)
        try:
            return _library_response(service.handle_resp(service.handle_get_members))
        except Exception as exc:  # an access token that does not verify
            return _json(401, {"error": repr(exc)})

    def _deep_link_return(self, request: Request) -> Response:
        token = request.form.get("JWT", "")
        conf = self._conf()
        try:
            payload = conf.tool_validate_and_decode(token)
            items = conf.validate_deeplinking_resp({"JWT": token})
        except Exception as exc:  # LtiException, LtiDeepLinkingResponseException, PyJWT errors …
            self.deep_link_returns.append(DeepLinkReturn(400, error=repr(exc)))
            return Response(f"deep-linking response refused: {exc!r}", status=400)
        self.deep_link_returns.append(DeepLinkReturn(200, payload, items))
        return Response("<p id='dl-done'>content added</p>", content_type="text/html")
