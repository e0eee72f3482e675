"""Drives the full OIDC login + launch through the Flask test client against a platform simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lti_tool.web import SESSION_COOKIE
from tests.support.platform import LmsUser, PlatformSimulator, auth_request_params


@dataclass
class LaunchResult:
    response: TestResponse
    token: str
    """The session token (``s``) the tool put in the redirect to its home page."""

    def get(self, client: FlaskClient, path: str, **kwargs: Any) -> TestResponse:
        sep = "&" if "?" in path else "?"
        return client.get(f"{path}{sep}s={self.token}", **kwargs)


class Launcher:
    def __init__(self, client: FlaskClient, platform: PlatformSimulator) -> None:
        self.client = client
        self.platform = platform

    def login(self, user: LmsUser, **extra: str) -> dict[str, str]:
        """Step 1: the login initiation; returns the auth request's parameters (state, nonce, …)."""
        response = self.client.post("/lti/login", data=self.platform.login_params(user, **extra))
        assert response.status_code == 302, response.get_data(as_text=True)
        return auth_request_params(response.headers["Location"])

    def post_launch(self, id_token: str, state: str) -> TestResponse:
        return self.client.post("/lti/launch", data={"id_token": id_token, "state": state})

    def launch(
        self,
        user: LmsUser,
        *,
        message_type: str = "LtiResourceLinkRequest",
        keep_cookie: bool = True,
        **overrides: Any,
    ) -> LaunchResult:
        """The whole launch; ``keep_cookie=False`` plays a browser that does not keep the session cookie
        (the session then travels only as the short-lived link token)."""
        auth = self.login(user)
        body = self.platform.claims(user, auth["nonce"], message_type=message_type, **overrides)
        response = self.post_launch(self.platform.sign(body), auth["state"])
        assert response.status_code == 303, response.get_data(as_text=True)
        token = parse_qs(urlsplit(response.headers["Location"]).query)["s"][0]
        if not keep_cookie:
            drop_session_cookie(self.client)
        return LaunchResult(response, token)


def drop_session_cookie(client: FlaskClient) -> None:
    """Forget the session cookie, as a browser that keeps none inside the LMS's iframe would."""
    client.delete_cookie(SESSION_COOKIE, path="/")
