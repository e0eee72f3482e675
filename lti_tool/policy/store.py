"""Stored policy versions: the institution's current policy, uploads, and a semester's snapshot.

``current()`` runs on every launch and several times per page, so it does not select the policy text:
it asks only for the newest version's ``sha256`` (one short row from an index) and takes the parsed policy
from a per-process cache keyed by that hash. An upload is therefore in effect on the very next call, in
this process and every other, and a cache entry can never be stale: it is addressed by its content.
Within one transaction the answer is also remembered (a page asks three or four times), so a transaction
sees one policy throughout; an upload through the same session replaces it at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from lti_tool import acting
from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import Policy, default_policy, default_policy_text, parse_policy

log = logging.getLogger(__name__)

_PARSED: dict[str, Policy] = {}
_PARSED_LOCK = threading.Lock()
_MAX_PARSED = 64

_VERSIONS = PolicyVersion.__table__
_NEWEST = (
    select(_VERSIONS.c.id, _VERSIONS.c.sha256)
    .where(_VERSIONS.c.institution_id == bindparam("institution_id"))
    .order_by(_VERSIONS.c.number.desc())
    .limit(1)
)
_TEXT = select(_VERSIONS.c.text).where(_VERSIONS.c.id == bindparam("version_id"))
_MEMO = "tingke.policy.current"

VersionUsers = Callable[[Session, int], Iterable[tuple[int, str]]]
"""(version id, label) of what an institution evaluates under each stored version, e.g. its semesters."""
_USERS: list[VersionUsers] = []


def register_version_users(fn: VersionUsers) -> VersionUsers:
    """Decorator for a domain that records which policy version it uses (timetable: each semester), so
    the policy page can say where a version is in use without policy importing that domain."""
    _USERS.append(fn)
    return fn


def version_users(session: Session, institution_id: int) -> dict[int, str]:
    """Version id → the labels of what uses it, joined with "、" in the order the domains give them."""
    users: dict[int, str] = {}
    for fn in _USERS:
        for version_id, label in fn(session, institution_id):
            users[version_id] = f"{users[version_id]}、{label}" if version_id in users else label
    return users


def _parse_cached(text: str) -> Policy:
    key = hashlib.sha256(text.encode()).hexdigest()
    policy = _PARSED.get(key)
    if policy is None:
        policy = parse_policy(text)
        with _PARSED_LOCK:
            if len(_PARSED) >= _MAX_PARSED:
                _PARSED.clear()
            _PARSED[key] = policy
    return policy


class PolicyStore:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def current_version(self) -> PolicyVersion | None:
        return self.session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.institution_id == self.institution_id)
            .order_by(PolicyVersion.number.desc())
            .limit(1)
        ).first()

    def current(self) -> Policy:
        transaction = self.session.get_transaction()
        memo = self.session.info.get(_MEMO)
        if transaction is not None and memo is not None and memo[0] is transaction:
            hit = memo[1].get(self.institution_id)
            if hit is not None:
                return hit
        newest = self.session.execute(_NEWEST, {"institution_id": self.institution_id}).first()
        if newest is None:
            return default_policy()
        policy = _PARSED.get(newest.sha256)
        if policy is None:  # first use in this process: read and parse the text once
            policy = _parse_cached(self.session.scalar(_TEXT, {"version_id": newest.id}) or "")
        transaction = self.session.get_transaction()
        if memo is None or memo[0] is not transaction:
            policies: dict[int, Policy] = {}
            memo = self.session.info[_MEMO] = (transaction, policies)
        memo[1][self.institution_id] = policy
        return policy

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
        number = (
            self.session.scalar(
                select(func.max(PolicyVersion.number)).where(
                    PolicyVersion.institution_id == self.institution_id
                )
            )
            or 0
        ) + 1
        row = PolicyVersion(
            institution_id=self.institution_id,
            number=number,
            text=text,
            sha256=policy.sha256,
            uploaded_by_id=uploaded_by_id,
        )
        self.session.add(row)
        self.session.flush()
        self.session.info.pop(_MEMO, None)
        log.info(
            "policy version %s (%s) stored for institution %s by %s",
            number, policy.sha256[:12], self.institution_id, acting.who(),
        )  # fmt: skip
        return row
