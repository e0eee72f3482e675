"""Stored policy versions: the institution's current policy, uploads, and a semester's snapshot."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import Policy, default_policy, default_policy_text, parse_policy

_PARSED: dict[str, Policy] = {}


def _parse_cached(text: str) -> Policy:
    key = hashlib.sha256(text.encode()).hexdigest()
    if key not in _PARSED:
        _PARSED[key] = parse_policy(text)
    return _PARSED[key]


class PolicyStore:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def current_version(self) -> PolicyVersion | None:
        return self.session.scalars(
            select(PolicyVersion).where(PolicyVersion.institution_id == self.institution_id)
            .order_by(PolicyVersion.number.desc()).limit(1)
        ).first()

    def current(self) -> Policy:
        version = self.current_version()
        return _parse_cached(version.text) if version else default_policy()

    def for_version(self, version_id: int | None) -> Policy:
        if version_id is None:
            return self.current()
        version = self.session.get(PolicyVersion, version_id)
        return _parse_cached(version.text) if version else self.current()

    def ensure_version(self) -> PolicyVersion:
        """The current version row, storing the shipped default as version 1 when none exists."""
        return self.current_version() or self.upload(default_policy_text(), None)

    def upload(self, text: str, uploaded_by_id: int | None) -> PolicyVersion:
        """Validate (raises ``PolicyError`` naming the bad key and rule) and store a new version."""
        policy = parse_policy(text)
        number = (self.session.scalar(
            select(func.max(PolicyVersion.number)).where(PolicyVersion.institution_id == self.institution_id)
        ) or 0) + 1
        row = PolicyVersion(institution_id=self.institution_id, number=number, text=text,
                            sha256=policy.sha256, uploaded_by_id=uploaded_by_id)
        self.session.add(row)
        self.session.flush()
        return row
