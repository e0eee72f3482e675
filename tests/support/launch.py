"""Drives the full OIDC login + launch through the Flask test client against a platform simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

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
        self, user: LmsUser, *, message_type: str = "LtiResourceLinkRequest", **overrides: Any
    ) -> LaunchResult:
        auth = self.login(user)
        body = self.platform.claims(user, auth["nonce"], message_type=message_type, **overrides)
        response = self.post_launch(self.platform.sign(body), auth["state"])
        assert response.status_code == 303, response.get_data(as_text=True)
        token = parse_qs(urlsplit(response.headers["Location"]).query)["s"][0]
        return LaunchResult(response, token)
