"""Mapping a launching LMS user to a roster person (docs/decisions.md L-5).

Order: the platform user already linked (remembered once matched); the ``lis.person_sourcedid`` claim,
which Moodle fills with the user's ID number (= 工号); then the e-mail address. Never a custom parameter:
course teachers can edit those. Quality-center staff link unmatched users by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PlatformUser, PositionHolding, Unit
from lti_tool.errors import BadRequest, NotFound
from lti_tool.lti.claims import STAFF_ROLE_NAMES, LaunchClaims

LAST_LAUNCH_RESOLUTION = dt.timedelta(hours=1)
"""``PlatformUser.last_launch_at`` is refreshed at most this often: it only orders the unmatched list,
and writing it on every launch would make every launch an UPDATE."""

_USERS, _PEOPLE, _UNITS, _HOLDINGS = (
    cast(Table, m.__table__) for m in (PlatformUser, Person, Unit, PositionHolding)
)
# A returning user in one statement: the platform user, its person's unit and every tenure of the person
# (one row per tenure, or one row with empty tenure columns).
_KNOWN_USER = (
    select(
        _USERS.c.id,
        _USERS.c.person_id,
        _PEOPLE.c.id.label("person_found"),
        _USERS.c.name,
        _USERS.c.email,
        _USERS.c.sourcedid,
        _USERS.c.roles,
        _USERS.c.last_launch_at,
        _UNITS.c.function,
        _UNITS.c.kind,
        _HOLDINGS.c.position_code,
        _HOLDINGS.c.start_date,
        _HOLDINGS.c.end_date,
    )
    .select_from(
        _USERS.outerjoin(
            _PEOPLE,
            and_(_PEOPLE.c.id == _USERS.c.person_id, _PEOPLE.c.institution_id == _USERS.c.institution_id),
        )
        .outerjoin(_UNITS, _UNITS.c.id == _PEOPLE.c.unit_id)
        .outerjoin(_HOLDINGS, _HOLDINGS.c.person_id == _PEOPLE.c.id)
    )
    .where(_USERS.c.platform_id == bindparam("platform_id"), _USERS.c.lti_user_id == bindparam("lti_user_id"))
)
_UPDATE_USER = update(_USERS).where(_USERS.c.id == bindparam("user_id"))


@dataclass(frozen=True)
class LaunchIdentity:
    """Who launched, with what the personas are decided from (``personas.personas_from``)."""

    platform_user_id: int
    person_id: int | None
    unit_function: str | None = None
    unit_kind: str | None = None
    tenures: tuple[tuple[str, dt.date | None, dt.date | None], ...] = ()
    """(position code, start, end) of every tenure of the person, held today or not."""


class IdentityService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def resolve(self, platform_id: int, claims: LaunchClaims, *, known_new: bool = False) -> PlatformUser:
        """Find or create the platform user and link it to a person when the roster allows.

        ``known_new``: the caller has just found no row for this user, so the first SELECT is skipped.
        """
        query = select(PlatformUser).where(
            PlatformUser.platform_id == platform_id, PlatformUser.lti_user_id == claims.user_id
        )
        user = None if known_new else self.session.scalars(query).first()
        if user is None:
            person = self.match(claims)
            # Two first launches of the same user at once (a double click, two tabs) race to insert:
            # the loser finds the winner's row instead of failing the launch.
            try:
                with self.session.begin_nested():
                    user = PlatformUser(
                        institution_id=self.institution_id,
                        platform_id=platform_id,
                        lti_user_id=claims.user_id,
                        person_id=person.id if person else None,
                        name=claims.name[:200],
                        email=claims.email[:254],
                        sourcedid=claims.person_sourcedid[:255],
                        roles=" ".join(claims.roles)[:2000],
                        last_launch_at=utcnow(),
                    )
                    self.session.add(user)
                    self.session.flush()
                return user
            except IntegrityError:
                user = self.session.scalars(query).one()
        # Assigning an unchanged value writes nothing (the ORM compares), so a repeat launch is no UPDATE.
        user.name = claims.name[:200]
        user.email = claims.email[:254]
        user.sourcedid = claims.person_sourcedid[:255]
        user.roles = " ".join(claims.roles)[:2000]
        now = utcnow()
        if user.last_launch_at is None or now - user.last_launch_at >= LAST_LAUNCH_RESOLUTION:
            user.last_launch_at = now
        if user.person_id is None:
            person = self.match(claims)
            if person is not None:
                user.person_id = person.id
        self.session.flush()
        return user

    def resolve_for_launch(self, platform_id: int, claims: LaunchClaims) -> LaunchIdentity:
        """``resolve``, plus the person's unit and tenures, in one statement for a returning, matched user.

        A launch of somebody already linked to the roster is by far the common case; it reads one row per
        tenure and writes only what changed (and ``last_launch_at`` once an hour). A first launch, or one
        of a user not matched yet (the roster may have gained them), takes ``resolve``.
        """
        rows = self.session.execute(
            _KNOWN_USER, {"platform_id": platform_id, "lti_user_id": claims.user_id}
        ).all()
        if not rows or rows[0].person_id is None:
            user = self.resolve(platform_id, claims, known_new=not rows)
            return self.identity_of(user.id, user.person_id)
        first = rows[0]
        wanted: dict[str, object] = {
            "name": claims.name[:200],
            "email": claims.email[:254],
            "sourcedid": claims.person_sourcedid[:255],
            "roles": " ".join(claims.roles)[:2000],
        }
        changes: dict[str, object] = {k: v for k, v in wanted.items() if getattr(first, k) != v}
        now = utcnow()
        if first.last_launch_at is None or now - first.last_launch_at >= LAST_LAUNCH_RESOLUTION:
            changes["last_launch_at"] = now
        if changes:
            self.session.execute(_UPDATE_USER.values(**changes), {"user_id": first.id})
        if first.person_found is None:  # linked to a person of another institution: never trusted
            return LaunchIdentity(platform_user_id=first.id, person_id=None)
        return LaunchIdentity(
            platform_user_id=first.id,
            person_id=first.person_id,
            unit_function=first.function,
            unit_kind=first.kind,
            tenures=tuple((r.position_code, r.start_date, r.end_date) for r in rows if r.position_code),
        )

    def identity_of(self, platform_user_id: int, person_id: int | None) -> LaunchIdentity:
        """The ``LaunchIdentity`` of a platform user whose person (if any) is known."""
        if person_id is None:
            return LaunchIdentity(platform_user_id=platform_user_id, person_id=None)
        person = self.session.get(Person, person_id)
        if person is None or person.institution_id != self.institution_id:
            return LaunchIdentity(platform_user_id=platform_user_id, person_id=None)
        tenures = self.session.execute(
            select(_HOLDINGS.c.position_code, _HOLDINGS.c.start_date, _HOLDINGS.c.end_date).where(
                _HOLDINGS.c.person_id == person_id
            )
        ).all()
        unit = person.unit
        return LaunchIdentity(
            platform_user_id=platform_user_id,
            person_id=person_id,
            unit_function=unit.function if unit else None,
            unit_kind=unit.kind if unit else None,
            tenures=tuple(map(tuple, tenures)),
        )

    def match(self, claims: LaunchClaims) -> Person | None:
        base = select(Person).where(Person.institution_id == self.institution_id)
        if claims.person_sourcedid:
            person = self.session.scalars(base.where(Person.employee_no == claims.person_sourcedid)).first()
            if person is not None:
                return person
        if claims.email:
            matches = list(
                self.session.scalars(base.where(func.lower(Person.email) == claims.email.lower()).limit(2))
            )
            if len(matches) == 1:  # an e-mail shared by two roster rows identifies nobody
                return matches[0]
        return None

    def _unmatched(self, *, staff: bool) -> Any:
        """Unmatched LMS users whose last launch had a staff role (``staff``) or only Learner-like roles.

        Students are expected not to be in the roster: they are counted apart, never listed among the users
        the quality center should link (issue 11 §9).
        """
        is_staff = or_(*(PlatformUser.roles.like(f"%{role}%") for role in STAFF_ROLE_NAMES))
        # No role recorded (an LMS that sent none): not known to be a student, so listed.
        student = (PlatformUser.roles != "") & ~is_staff
        return (
            (PlatformUser.institution_id == self.institution_id)
            & PlatformUser.person_id.is_(None)
            & (~student if staff else student)
        )

    def unmatched(self, limit: int = 500) -> list[PlatformUser]:
        """LMS staff (not students) who launched but match nobody in the roster, most recent first."""
        return list(
            self.session.scalars(
                select(PlatformUser)
                .where(self._unmatched(staff=True))
                .order_by(PlatformUser.last_launch_at.desc(), PlatformUser.id.desc())
                .limit(limit)
            )
        )

    def unmatched_count(self) -> int:
        return int(
            self.session.scalar(
                select(func.count()).select_from(PlatformUser).where(self._unmatched(staff=True))
            )
            or 0
        )

    def unmatched_learners_count(self) -> int:
        """Students (Learner launches only) not in the roster: counted, not listed."""
        return int(
            self.session.scalar(
                select(func.count()).select_from(PlatformUser).where(self._unmatched(staff=False))
            )
            or 0
        )

    def link(self, platform_user_id: int, employee_no: str) -> PlatformUser:
        """Link an LMS user to a roster person by hand; their next launch lands them as that person.

        The launch session the user already holds keeps its old identity (it is signed with it); only a
        new launch picks the link up, which is what "open Tingke again" on the unmatched page says.
        """
        if not employee_no.strip():
            raise BadRequest("Enter an employee number.")
        user = self.session.get(PlatformUser, platform_user_id)
        if user is None or user.institution_id != self.institution_id:
            raise NotFound("No such LMS user.")
        person = self.session.scalars(
            select(Person).where(
                Person.institution_id == self.institution_id, Person.employee_no == employee_no.strip()
            )
        ).first()
        if person is None:
            raise NotFound("No person with employee number %(no)s in the roster.", no=employee_no)
        user.person_id = person.id
        user.linked_by_hand = True
        return user
