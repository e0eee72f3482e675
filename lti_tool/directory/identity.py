"""Mapping a launching LMS user to a roster person (requirements.md, "Who uses it").

Order: the platform user already linked (remembered once matched); the ``lis.person_sourcedid`` claim,
which Moodle fills with the user's ID number (= 工号); then the e-mail address. Never a custom parameter:
course teachers can edit those. Quality-center staff link unmatched users by hand.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PlatformUser
from lti_tool.errors import BadRequest, NotFound
from lti_tool.lti.claims import LaunchClaims


class IdentityService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def resolve(self, platform_id: int, claims: LaunchClaims) -> PlatformUser:
        """Find or create the platform user and link it to a person when the roster allows."""
        query = select(PlatformUser).where(PlatformUser.platform_id == platform_id,
                                           PlatformUser.lti_user_id == claims.user_id)
        user = self.session.scalars(query).first()
        if user is None:
            # Two first launches of the same user at once (a double click, two tabs) race to insert:
            # the loser finds the winner's row instead of failing the launch.
            try:
                with self.session.begin_nested():
                    user = PlatformUser(institution_id=self.institution_id, platform_id=platform_id,
                                        lti_user_id=claims.user_id)
                    self.session.add(user)
                    self.session.flush()
            except IntegrityError:
                user = self.session.scalars(query).one()
        user.name = claims.name[:200]
        user.email = claims.email[:254]
        user.sourcedid = claims.person_sourcedid[:255]
        user.roles = " ".join(claims.roles)[:2000]
        user.last_launch_at = utcnow()
        if user.person_id is None:
            person = self.match(claims)
            if person is not None:
                user.person_id = person.id
        self.session.flush()
        return user

    def match(self, claims: LaunchClaims) -> Person | None:
        base = select(Person).where(Person.institution_id == self.institution_id)
        if claims.person_sourcedid:
            person = self.session.scalars(base.where(Person.employee_no == claims.person_sourcedid)).first()
            if person is not None:
                return person
        if claims.email:
            matches = list(self.session.scalars(
                base.where(func.lower(Person.email) == claims.email.lower()).limit(2)))
            if len(matches) == 1:  # an e-mail shared by two roster rows identifies nobody
                return matches[0]
        return None

    def unmatched(self, limit: int = 500) -> list[PlatformUser]:
        """LMS users who launched but match nobody in the roster, most recent first."""
        return list(self.session.scalars(
            select(PlatformUser).where(PlatformUser.institution_id == self.institution_id,
                                       PlatformUser.person_id.is_(None))
            .order_by(PlatformUser.last_launch_at.desc(), PlatformUser.id.desc()).limit(limit)
        ))

    def unmatched_count(self) -> int:
        return int(self.session.scalar(
            select(func.count()).select_from(PlatformUser)
            .where(PlatformUser.institution_id == self.institution_id, PlatformUser.person_id.is_(None))
        ) or 0)

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
            select(Person).where(Person.institution_id == self.institution_id,
                                 Person.employee_no == employee_no.strip())
        ).first()
        if person is None:
            raise NotFound("No person with employee number %(no)s in the roster.", no=employee_no)
        user.person_id = person.id
        user.linked_by_hand = True
        return user
