"""OIDC login initiation and the resource-link / deep-linking launch, through pylti1p3, once.

The protocol, as Tingke runs it (LTI 1.3 core §5.1, OIDC third-party initiated login):

1. The platform sends the browser to ``/lti/login`` with ``iss``, ``login_hint``, ``target_link_uri``
   (and usually ``client_id``, ``lti_message_hint``). ``LaunchService.login`` finds the registration,
   lets pylti1p3 build the authentication request, and stores the state with its nonce server-side
   (``LoginState``). The state is also set as a *partitioned* cookie (CHIPS), which browsers that block
   third-party cookies still keep inside the LMS's iframe.
2. The platform posts an ``id_token`` and the ``state`` to ``/lti/launch``. ``LaunchService.launch``
   checks what pylti1p3 checks and what it misses (docs/stack-notes.md §8, docs/decisions.md L-1):
   RS256 only, the key by ``kid`` (one JWKS refresh on an unknown kid), ``iss``, ``aud`` exactly our
   client id and ``azp``,
   ``exp`` and ``iat`` present with ±60 s leeway, state and nonce consumed exactly once (a replayed or
   re-posted token finds no state), the registered deployment, message type, version 1.3.0, resource
   link id, ``target_link_uri`` equal to the login request's, ``sub`` present and ≤ 255 characters and
   the roles claim.
3. A launch that passes becomes a ``LaunchSession`` row; the page carries a signed token naming it.

Every refusal raises ``LaunchRefused`` (HTTP 400 with a clear page). The caller rolls the transaction
back on any error, so a refused launch leaves no row behind.

This is the hottest path of the tool (every page a teacher opens from Moodle starts with it), so it runs
few statements: the registration comes from a per-process cache (tool_conf.py), the tool's key is not
read (nothing is signed), the state is inserted and later consumed with one statement each, and expired
states and sessions are swept at most once a minute per process (``sessions.sweep_expired``) instead of
on every request. bench/launch.md has the measurements.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import jwt
import requests
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from sqlalchemy import String, Table, bindparam, delete, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from lti_tool.config import Settings
from lti_tool.db import utcnow
from lti_tool.errors import LaunchRefused
from lti_tool.lti.claims import (
    CLAIM_CONTEXT,
    CLAIM_CUSTOM,
    CLAIM_DEPLOYMENT,
    CLAIM_DL_SETTINGS,
    CLAIM_LIS,
    CLAIM_MESSAGE_TYPE,
    CLAIM_NRPS,
    CLAIM_PLATFORM,
    CLAIM_PRESENTATION,
    CLAIM_RESOURCE_LINK,
    CLAIM_TARGET,
    LaunchClaims,
)
from lti_tool.lti.http import LazyTimeoutSession
from lti_tool.lti.id_token import decoder as id_token_decoder
from lti_tool.lti.models import LoginState
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.sessions import sweep_expired
from lti_tool.lti.tool_conf import DbToolConf, PlatformInfo

STATE_COOKIE_PREFIX = "lti1p3-"
MAX_SUB_LENGTH = 255
MAX_ID_LENGTH = 255
"""LTI 1.3 core caps ``sub``, ``deployment_id``, the resource link's and the context's ``id`` and the tool
platform's ``guid`` at 255 ASCII characters (§5.1.2, §5.3.5, §5.4.1, §5.4.2)."""
ACCEPTED_MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
# The login parameters kept with the state, to re-initiate the login at the top level ("new window").
KEPT_LOGIN_PARAMS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
)

_STATES = cast(Table, LoginState.__table__)
_INSERT_STATE = insert(_STATES)
_STATE_IS = (_STATES.c.state == bindparam("take_state"), _STATES.c.platform_id == bindparam("take_platform"))
_STATE_COLUMNS = (_STATES.c.nonce, _STATES.c.target_link_uri, _STATES.c.expires_at, _STATES.c.login_params)
_TAKE_STATE = delete(_STATES).where(*_STATE_IS).returning(*_STATE_COLUMNS)
_PEEK_STATE = select(*_STATE_COLUMNS).where(*_STATE_IS)
_DROP_STATE = delete(_STATES).where(*_STATE_IS)


class LaunchStateMissing(LaunchRefused):
    """The launch's state cookie did not come back: the browser keeps no cookie in the LMS's iframe.

    ``retry_state`` names the login whose parameters can start the login again in a new window (top
    level, where the browser keeps cookies); it is empty when that login is unknown or expired.
    """

    def __init__(self, message: str, retry_state: str = "") -> None:
        super().__init__(message)
        self.retry_state = retry_state


class _ParamsRequest(Request):
    """pylti1p3's request interface over plain dicts, so the service needs no Flask."""

    def __init__(self, params: dict[str, str], cookies: dict[str, str], secure: bool) -> None:
        super().__init__()
        self._params = params
        self._cookies = cookies
        self._secure = secure

    @property
    def session(self) -> None:
        return None

    def get_param(self, key: str) -> str:
        return self._params.get(key)  # type: ignore[return-value]

    def get_cookie(self, key: str) -> str | None:
        return self._cookies.get(key)

    def is_secure(self) -> bool:
        return self._secure


class _CookieJar(CookieService):
    """Collects the cookies pylti1p3 wants to set; the view sets them partitioned."""

    _cookie_prefix = "lti1p3"

    def __init__(self, request: _ParamsRequest) -> None:
        self._request = request
        self.to_set: dict[str, tuple[str, int]] = {}

    def _get_key(self, key: str) -> str:
        return f"{self._cookie_prefix}-{key}"

    def get_cookie(self, name: str) -> str | None:
        return self._request.get_cookie(self._get_key(name))

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self.to_set[self._get_key(name)] = (str(value), exp or 3600)


class _StateCapture(SessionService):
    """Receives the nonce and state pylti1p3 generates; ``LaunchService`` stores them as a row."""

    def __init__(self) -> None:  # no super(): pylti1p3's default storage is the Flask session
        self.nonce = ""
        self.state = ""
        self.params: dict[str, Any] = {}

    def save_nonce(self, nonce: str) -> None:
        self.nonce = nonce

    def save_state_params(self, state: str, params: dict[str, Any]) -> None:
        self.state = state
        self.params = dict(params)


class _UrlRedirect(Redirect[str]):
    def __init__(self, location: str) -> None:
        self._location = location

    def do_redirect(self) -> str:
        return self._location

    def do_js_redirect(self) -> str:
        return self._location

    def set_redirect_url(self, location: str) -> None:
        self._location = location

    def get_redirect_url(self) -> str:
        return self._location


class _Login(OIDCLogin):
    def get_redirect(self, url: str) -> _UrlRedirect:
        return _UrlRedirect(url)


class _Launch(MessageLaunch):
    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)


@dataclass
class LoginResult:
    redirect_url: str
    cookie_name: str
    cookie_value: str
    cookie_max_age: int
    stale_cookies: tuple[str, ...] = ()
    """State cookies of this browser's earlier logins to delete: expired or used ones, and the oldest
    pending ones beyond ``Settings.max_login_states_per_browser``."""


@dataclass
class ValidatedLaunch:
    platform: PlatformInfo
    claims: LaunchClaims
    message_launch: MessageLaunch
    body: dict[str, Any]


log = logging.getLogger(__name__)
_F = TypeVar("_F", bound=Callable[..., Any])


def _logs_refusals(step: str) -> Callable[[_F], _F]:
    """One warning line per refused login or launch: the platform and institution when the issuer is
    registered, the LMS user when the request names one, and the reason (English)."""

    def decorator(method: _F) -> _F:
        @wraps(method)
        def wrapper(self: LaunchService, params: dict[str, str], *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, params, *args, **kwargs)
            except LaunchRefused as exc:
                iss, client_id, user = _who_asked(params)
                try:
                    platform = self.tool_conf.platform(iss, client_id) if iss else None
                except Exception:  # the log line must not hide the refusal
                    platform = None
                log.warning(
                    "%s refused for institution %s (issuer %r, client %r, LMS user %r): %s",
                    step, platform.institution_id if platform else "unknown", iss, client_id, user, exc,
                )  # fmt: skip
                raise

        return wrapper  # type: ignore[return-value]

    return decorator


def _obj_get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def _who_asked(params: dict[str, str]) -> tuple[str, str | None, str | None]:
    """Issuer, client id and user of a login request, or of a launch's id_token read unverified (the
    refusal may be that it does not verify: this is for the log only, never for a decision)."""
    if "id_token" not in params:
        return params.get("iss", ""), params.get("client_id"), params.get("login_hint")
    try:
        body = jwt.decode(params["id_token"], options={"verify_signature": False})
    except Exception:  # a token that is not even a JWT names nobody
        return "", None, None
    aud = body.get("aud")
    client = aud[0] if isinstance(aud, list) and aud else aud
    return str(body.get("iss") or ""), str(client) if client else None, str(body.get("sub") or "") or None


class LaunchService:
    """Runs the OIDC login and validates launches for one request."""

    def __init__(self, session: Session, settings: Settings, key_cache: PlatformKeyCache) -> None:
        self.session = session
        self.settings = settings
        self.key_cache = key_cache
        self.http = LazyTimeoutSession(settings.http_timeout_seconds)  # most requests fetch nothing
        self.tool_conf = DbToolConf(session)

    @property
    def launch_url(self) -> str:
        return f"{self.settings.base_url}/lti/launch"

    # -- step 1 -------------------------------------------------------------------------------------
    @_logs_refusals("login")
    def login(
        self, params: dict[str, str], secure: bool = True, browser_cookies: dict[str, str] | None = None
    ) -> LoginResult:
        for required in ("iss", "login_hint", "target_link_uri"):
            if not params.get(required):
                raise LaunchRefused("The login request has no '%(param)s'.", param=required)
        platform = self.tool_conf.platform(params["iss"], params.get("client_id"))
        if platform is None:
            raise LaunchRefused("This LMS is not registered with Tingke (unknown issuer or client id).")
        deployment_id = params.get("lti_deployment_id")
        if deployment_id is not None and (
            len(deployment_id) > MAX_ID_LENGTH
            or self.tool_conf.find_deployment_by_params(params["iss"], deployment_id, platform.client_id)
            is None
        ):
            raise LaunchRefused("This LMS deployment is not registered with Tingke (unknown deployment id).")
        if not self._is_ours(params["target_link_uri"]):
            raise LaunchRefused("The login request's target_link_uri does not point at this tool.")
        column_length = cast(String, _STATES.c.target_link_uri.type).length  # its column
        if column_length is not None and len(params["target_link_uri"]) > column_length:
            raise LaunchRefused("The login request's '%(param)s' is too long.", param="target_link_uri")
        request = _ParamsRequest(params, {}, secure)
        cookies = _CookieJar(request)
        capture = _StateCapture()
        login = _Login(request, self.tool_conf, capture, cookies)
        login.pass_params_to_launch({"target_link_uri": params["target_link_uri"]})
        try:
            url = login.get_redirect_object(self.launch_url).get_redirect_url()
        except (OIDCException, LtiException) as exc:
            raise LaunchRefused("The login request was refused: %(reason)s", reason=str(exc)) from exc
        lifetime = self.settings.login_state_lifetime_seconds
        self.session.execute(
            _INSERT_STATE,
            {
                "state": capture.state,
                "nonce": capture.nonce,
                "platform_id": platform.id,
                "target_link_uri": params["target_link_uri"],
                "login_params": {k: params[k] for k in KEPT_LOGIN_PARAMS if params.get(k)},
                "expires_at": utcnow() + dt.timedelta(seconds=lifetime),
            },
        )
        sweep_expired(self.session)
        stale = self._stale_state_cookies(browser_cookies or {})
        return LoginResult(url, STATE_COOKIE_PREFIX + capture.state, capture.state, lifetime, stale)

    def _stale_state_cookies(self, cookies: dict[str, str]) -> tuple[str, ...]:
        """The state cookies this browser should drop so that, with the new one, it keeps at most
        ``max_login_states_per_browser``: those whose login is gone (used, expired, never ours) first,
        then the oldest pending ones. One query, over at most the cookies the request carried."""
        states = {
            name[len(STATE_COOKIE_PREFIX) :]: name for name in cookies if name.startswith(STATE_COOKIE_PREFIX)
        }
        if not states:
            return ()
        keep = max(self.settings.max_login_states_per_browser - 1, 0)
        pending = (
            self.session.execute(
                select(_STATES.c.state)
                .where(_STATES.c.state.in_(list(states)[:256]), _STATES.c.expires_at >= utcnow())
                .order_by(_STATES.c.expires_at.desc())
            )
            .scalars()
            .all()
        )
        kept = set(pending[:keep])
        return tuple(name for state, name in states.items() if state not in kept)

    def _is_ours(self, url: str) -> bool:
        ours, theirs = urlsplit(self.settings.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    # -- step 2 -------------------------------------------------------------------------------------
    @_logs_refusals("launch")
    def validate_launch(
        self, params: dict[str, str], cookies: dict[str, str], secure: bool = True
    ) -> ValidatedLaunch:
        id_token, state = params.get("id_token"), params.get("state")
        if not id_token:
            raise LaunchRefused("The launch has no id_token.")
        if not state:
            raise LaunchRefused("The launch has no state.")
        request = _ParamsRequest(params, cookies, secure)
        launch = _Launch(
            request,
            self.tool_conf,
            session_service=_StateCapture(),
            cookie_service=_CookieJar(request),
            # Duck-typed: pylti1p3 only calls get() on it, which LazyTimeoutSession provides.
            requests_session=cast(requests.Session, self.http),
        )
        launch.set_auto_validation(enable=False)  # Tingke runs the steps itself, in its own order
        try:
            launch.validate_jwt_format()
        except LtiException as exc:
            raise LaunchRefused("The id_token is not a well-formed JWT.") from exc
        raw_header: object = launch._jwt.get("header")  # noqa: SLF001 - pylti1p3 exposes no getter
        raw_body: object = launch._jwt.get("body")  # noqa: SLF001
        if not isinstance(raw_header, dict) or not isinstance(raw_body, dict):
            raise LaunchRefused("The id_token is not a well-formed JWT.")
        header: dict[str, Any] = dict(raw_header)
        body: dict[str, Any] = dict(raw_body)
        if header.get("alg") != "RS256":
            raise LaunchRefused("The id_token must be signed with RS256.")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise LaunchRefused("The id_token names no key (kid).")

        for claim in NUMERIC_DATE_CLAIMS:
            if claim in body and (isinstance(body[claim], bool) or not isinstance(body[claim], int | float)):
                raise LaunchRefused("The id_token's %(claim)s must be a number of seconds.", claim=claim)
        platform, client_id = self._check_audience(body)
        try:
            launch.validate_registration()
        except LtiException as exc:
            raise LaunchRefused(
                "The launch's registration is not valid: %(reason)s", reason=str(exc)
            ) from exc
        # Everything that needs no key is checked before the key is looked up (a JWKS fetch may be
        # needed): a launch that is malformed, too old, for an unknown deployment or without a pending
        # login of its own costs no request to the platform. The body is not yet verified here; the
        # signature check below still decides before anything is written.
        self._check_message_shape(body)
        self._check_issued_at(body)
        try:
            launch.validate_deployment()
            launch.validate_message()
        except LtiException as exc:
            raise LaunchRefused("The launch message is not valid: %(reason)s", reason=str(exc)) from exc
        sub = body.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
            raise LaunchRefused("The launch's user id (sub) is missing or longer than 255 characters.")
        roles = body.get("https://purl.imsglobal.org/spec/lti/claim/roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise LaunchRefused("The launch's roles claim must be a list of role URIs.")
        if not self.key_cache.has_key(platform.key_set_url, header["kid"]):
            # The key must be fetched: first make sure this browser holds a pending login of this
            # platform (read only, so no lock is held while the platform answers).
            self._check_state_cookie(state, cookies, platform)
            if (
                self.session.execute(_PEEK_STATE, {"take_state": state, "take_platform": platform.id}).first()
                is None
            ):
                raise LaunchRefused("This launch was already used or has expired; please launch again.")
            # End the (read-only) transaction before the platform is asked: SQLite transactions begin
            # IMMEDIATE (db.py), so an open one would hold the database's write lock for the whole fetch
            # and stall every other request. Nothing was written yet: a launch is its request's first work.
            self.session.rollback()
        self._check_signature(id_token, header["kid"], platform, client_id)
        login_state = self._consume_state(state, body, cookies, platform)
        target = body.get(CLAIM_TARGET)
        if not isinstance(target, str) or target != login_state.target_link_uri:
            raise LaunchRefused("The launch's target_link_uri differs from the login request's.")
        login_deployment = (login_state.login_params or {}).get("lti_deployment_id")
        if login_deployment is not None and login_deployment != body[CLAIM_DEPLOYMENT]:
            raise LaunchRefused("The launch's deployment differs from the login request's.")
        launch.set_jwt({"header": header, "body": body})  # type: ignore[typeddict-item]
        launch._validated = True  # noqa: SLF001 - validated above, step by step
        return ValidatedLaunch(platform, LaunchClaims.from_jwt(body), launch, body)

    @staticmethod
    def _check_message_shape(body: dict[str, Any]) -> None:
        """What pylti1p3's validators assume without checking (they raise AttributeError, i.e. a 500).

        Only the two message types Tingke handles are accepted: pylti1p3 would also pass a
        ``DataPrivacyLaunchRequest`` or ``LtiSubmissionReviewRequest``, which carry no resource link and
        must not open a session.
        """
        message_type = body.get(CLAIM_MESSAGE_TYPE)
        if not message_type:
            raise LaunchRefused("The launch has no message type.")
        if message_type not in ACCEPTED_MESSAGE_TYPES:
            raise LaunchRefused(
                "Tingke does not handle LTI messages of type '%(type)s'.", type=str(message_type)
            )
        for claim in (CLAIM_CONTEXT, CLAIM_LIS, CLAIM_CUSTOM, CLAIM_PRESENTATION, CLAIM_NRPS, CLAIM_PLATFORM):
            if claim in body and not isinstance(body[claim], dict):
                raise LaunchRefused("The launch's claim %(claim)s must be a JSON object.", claim=claim)
        if not isinstance(body.get(CLAIM_DEPLOYMENT), str) or not body[CLAIM_DEPLOYMENT]:
            raise LaunchRefused("The launch names no deployment (deployment_id).")
        context = body.get(CLAIM_CONTEXT)
        if context is not None and (not isinstance(context.get("id"), str) or not context["id"]):
            raise LaunchRefused("The launch's context claim has no id.")
        if message_type == "LtiResourceLinkRequest":
            link = body.get(CLAIM_RESOURCE_LINK)
            if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
                raise LaunchRefused("The launch has no resource link id.")
        else:
            settings = body.get(CLAIM_DL_SETTINGS)
            if not isinstance(settings, dict):
                raise LaunchRefused("The deep-linking request has no deep_linking_settings.")
            return_url = settings.get("deep_link_return_url")
            if not isinstance(return_url, str) or urlsplit(return_url).scheme not in ("http", "https"):
                raise LaunchRefused("The deep-linking request has no valid deep_link_return_url.")
        ids = {
            "deployment_id": body[CLAIM_DEPLOYMENT],
            "resource_link.id": _obj_get(body.get(CLAIM_RESOURCE_LINK), "id"),
            "context.id": _obj_get(context, "id"),
            "tool_platform.guid": _obj_get(body.get(CLAIM_PLATFORM), "guid"),
        }
        for name, value in ids.items():
            if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
                raise LaunchRefused(
                    "The launch's %(claim)s is longer than %(limit)s characters.",
                    claim=name,
                    limit=MAX_ID_LENGTH,
                )

    def _check_issued_at(self, body: dict[str, Any]) -> None:
        """An id_token is posted the moment the platform signs it: one issued longer ago than
        ``id_token_max_age_seconds`` (plus the clock leeway) is refused even when its ``exp`` is far off,
        so a token copied from a log or a browser history cannot be replayed later."""
        iat = body.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            return  # PyJWT's required-claims check names it
        oldest = (
            utcnow().timestamp() - self.settings.id_token_max_age_seconds - self.settings.clock_leeway_seconds
        )
        if iat < oldest:
            raise LaunchRefused(
                "The launch was issued more than %(minutes)s minutes ago; please launch again from the LMS.",
                minutes=self.settings.id_token_max_age_seconds // 60,
            )

    def _check_audience(self, body: dict[str, Any]) -> tuple[PlatformInfo, str]:
        iss, aud, azp = body.get("iss"), body.get("aud"), body.get("azp")
        if not isinstance(iss, str) or not iss:
            raise LaunchRefused("The id_token has no issuer (iss).")
        audiences = aud if isinstance(aud, list) else [aud] if isinstance(aud, str) else []
        if not audiences or not all(isinstance(a, str) for a in audiences):
            raise LaunchRefused("The id_token has no audience (aud).")
        if len(audiences) > 1 and azp is None:
            raise LaunchRefused("An id_token for several audiences must name its authorized party (azp).")
        client_id = azp if isinstance(azp, str) else audiences[0]
        if client_id not in audiences:
            raise LaunchRefused("The id_token's authorized party (azp) is not among its audiences.")
        platform = self.tool_conf.platform(iss, client_id)
        if platform is None:
            raise LaunchRefused("This LMS is not registered with Tingke (unknown issuer or client id).")
        untrusted = [a for a in audiences if a != client_id]
        if untrusted:
            raise LaunchRefused("The id_token is also addressed to an audience Tingke does not trust.")
        return platform, client_id

    def _check_signature(self, id_token: str, kid: str, platform: PlatformInfo, client_id: str) -> None:
        jwk = self.key_cache.key_for(platform.key_set_url, kid, self.http.session)
        if jwk.get("alg", "RS256") != "RS256" or jwk.get("kty") != "RSA":
            raise LaunchRefused("The platform's key is not an RS256 key.")
        try:
            public_key = self.key_cache.public_key(jwk)
        except ValueError as exc:
            raise LaunchRefused("The platform publishes a key Tingke cannot read.") from exc
        leeway = self.settings.clock_leeway_seconds
        try:
            claims = id_token_decoder.decode(
                id_token,
                public_key,
                algorithms=["RS256"],
                audience=client_id,
                issuer=platform.issuer,
                leeway=leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise LaunchRefused("The launch has expired; please launch again from the LMS.") from exc
        except jwt.InvalidTokenError as exc:
            raise LaunchRefused("The id_token failed verification: %(reason)s", reason=str(exc)) from exc
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or iat > utcnow().timestamp() + leeway:
            raise LaunchRefused("The id_token was issued in the future (check the LMS clock).")

    def _consume_state(
        self, state: str, body: dict[str, Any], cookies: dict[str, str], platform: PlatformInfo
    ) -> Row[Any, Any, Any, Any]:
        self._check_state_cookie(state, cookies, platform)
        row = self._take_state(state, platform.id)
        if row is None:
            raise LaunchRefused("This launch was already used or has expired; please launch again.")
        if row.expires_at < utcnow():
            raise LaunchRefused("The login took too long; please launch again.")
        if not secrets.compare_digest(str(body.get("nonce", "")), row.nonce):
            raise LaunchRefused("The launch's nonce does not match its login request.")
        return row

    def _check_state_cookie(self, state: str, cookies: dict[str, str], platform: PlatformInfo) -> None:
        if cookies.get(STATE_COOKIE_PREFIX + state) != state:
            pending = self.session.get(LoginState, state)
            retry = (
                state
                if pending is not None
                and pending.platform_id == platform.id
                and pending.expires_at >= utcnow()
                else ""
            )
            raise LaunchStateMissing(
                "This browser did not keep the launch's login state (it blocks cookies inside the LMS "
                "page, or the launch did not start here). Open Tingke in a new window, or launch again "
                "from the LMS.",
                retry_state=retry,
            )

    def _take_state(self, state: str, platform_id: int) -> Row[Any, Any, Any, Any] | None:
        """Delete the launching platform's state and return it, or None when there is none (consumed,
        never issued, or another platform's). The DELETE decides between two simultaneous posts of one
        token: one gets the row, the other finds nothing. One ``DELETE … RETURNING`` where the database
        supports it (PostgreSQL, SQLite ≥ 3.35), else a SELECT and a DELETE whose row count decides."""
        params = {"take_state": state, "take_platform": platform_id}
        if self.session.get_bind().dialect.delete_returning:
            return self.session.execute(_TAKE_STATE, params).first()
        row = self.session.execute(_PEEK_STATE, params).first()
        if row is not None and self.session.execute(_DROP_STATE, params).rowcount != 1:  # type: ignore[attr-defined]
            # the other of two simultaneous posts deleted it first
            raise LaunchRefused("This launch was already used; please launch again.")
        return row

    def login_params_for_new_window(self, state: str) -> dict[str, str]:
        """The original login request's parameters, to start the same login again at the top level.

        Only parameters the platform sent in the clear through the browser are kept, so handing them
        back reveals nothing; the platform re-authenticates the user and a new state and nonce are made.
        """
        row = self.session.get(LoginState, state) if state else None
        if row is None or row.expires_at < utcnow():
            raise LaunchRefused("This launch has expired; please launch Tingke again from the LMS.")
        return {k: str(v) for k, v in (row.login_params or {}).items() if k in KEPT_LOGIN_PARAMS}
