"""The acting person of a request (``Actor``): what views hand to services instead of any global.

Part of the shell: every domain's views and services take one. It is built by the lti domain from a
launch session (``lti/sessions.py``); its ``claims`` are the launch's (``lti/claims.py``), named here for
type checking only, so the shell imports no domain at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lti_tool.errors import Forbidden

if TYPE_CHECKING:
    from lti_tool.lti.claims import LaunchClaims


@dataclass
class Actor:
    """Who is acting in this request: passed to services instead of any global."""

    session_id: str
    institution_id: int
    person_id: int | None
    platform_id: int
    persona: str
    personas: list[str]
    claims: LaunchClaims
    locale: str = "zh_CN"
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        """Who this is in a log line: the roster person, else the LMS user, and the persona."""
        who = (
            f"person {self.person_id}" if self.person_id is not None else f"LMS user {self.claims.user_id!r}"
        )
        return f"{who} as {self.persona or 'no persona'} (platform {self.platform_id})"

    def require_persona(self, *allowed: str) -> None:
        if self.persona not in allowed:
            raise Forbidden("This page is not available in your current role.")

    def require_person(self) -> int:
        if self.person_id is None:
            raise Forbidden("Your LMS account is not linked to the roster yet.")
        return self.person_id
