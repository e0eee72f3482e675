"""Letters to the school leaders (C-6b, 五.2) on the one follow-up loop (``followup.py``).

Anybody who can launch Tingke writes one — a student too, who has no roster entry: the letter keeps their LMS
identity (``PlatformUser``) and, when they are on the roster, their person. The school office also registers
letters received by e-mail or on paper. The office screens each letter (accepted, or closed as a duplicate or
not for the leaders, with a reason), routes it to the leader in charge of its area by the division of work
with a deadline; the leader's instruction names the handling unit; the unit answers; the office checks and
releases the answer, which the writer reads on "my letters".

An anonymous letter's writer is kept but shown to the school office only (``writer_for``): never to the
leader, the handling or assisting units.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lti_tool.academic_year import academic_year_of
from lti_tool.db import get_scoped
from lti_tool.directory.models import Person, PlatformUser
from lti_tool.errors import NotFound
from lti_tool.i18n import N_
from lti_tool.notifications.events import Audience, register_audience
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import Acting, FollowUpService, clean_text, parse_day, refuse
from lti_tool.outreach.models import (
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Letter,
    LetterChannel,
    follow_up_overdue,
)
from lti_tool.policy.schema import Policy

log = logging.getLogger(__name__)

SUBJECT_MAX, BODY_MAX = 200, 10_000
AUTO = "auto"
"""The routing form's leader choice "the leader in charge of the area, by the division of work"."""


class LetterService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.loop = FollowUpService(session, institution_id, policy)
        self.division = DivisionService(session, institution_id, policy)

    # -- writing and registering ----------------------------------------------------------------------------
    def platform_user(self, platform_id: int, lti_user_id: str) -> PlatformUser | None:
        """The LMS identity a launch came with (every launch records one)."""
        return self.session.scalars(
            select(PlatformUser).where(
                PlatformUser.institution_id == self.institution_id,
                PlatformUser.platform_id == platform_id,
                PlatformUser.lti_user_id == lti_user_id,
            )
        ).first()

    def new_letter(
        self, *, channel: str, subject: object, body: object, anonymous: bool, received_on: dt.date
    ) -> Letter:
        """A received letter with its follow-up, checked first; ``write`` and ``register`` add the writer."""
        subject_text = clean_text(subject, N_("Subject"), limit=SUBJECT_MAX)
        body_text = clean_text(body, N_("Your letter"), limit=BODY_MAX)
        fu = self.loop.create(FollowUpKind.LETTER)
        letter = Letter(
            institution_id=self.institution_id,
            follow_up=fu,
            channel=channel,
            subject=subject_text,
            body=body_text,
            anonymous=anonymous,
            received_on=received_on,
        )
        self.session.add(letter)
        self.session.flush()
        self.loop.received(fu, None)  # the writer is on the letter only: an event would show them
        return letter

    def write(
        self,
        *,
        person_id: int | None,
        platform_user_id: int | None,
        name: str,
        subject: object,
        body: object,
        anonymous: bool,
    ) -> Letter:
        """A letter written in Tingke by the launched person."""
        if person_id is None and platform_user_id is None:
            raise refuse(N_("Open Tingke from your LMS to write a letter."))
        letter = self.new_letter(
            channel=LetterChannel.TOOL,
            subject=subject,
            body=body,
            anonymous=anonymous,
            received_on=self.today(),
        )
        letter.writer_person_id = person_id
        letter.writer_platform_user_id = platform_user_id
        letter.writer_name = name[:100]
        self.session.flush()
        log.info("letter %s written (anonymous: %s)", letter.id, anonymous)
        return letter

    def register(
        self,
        office_person_id: int | None,
        *,
        channel: str,
        subject: object,
        body: object,
        writer_name: object,
        writer_contact: object,
        anonymous: bool,
        received_on: object,
    ) -> Letter:
        """A letter the school office received by e-mail, on paper or otherwise."""
        if channel not in (LetterChannel.EMAIL, LetterChannel.PAPER, LetterChannel.OTHER):
            raise refuse(N_("Received by: choose e-mail, paper or other."))
        day = parse_day(received_on, N_("Received on"))
        assert day is not None
        if day > self.today():
            raise refuse(N_("Received on: the day cannot be in the future."))
        name = clean_text(writer_name, N_("Writer"), required=not anonymous, limit=100)
        contact = clean_text(writer_contact, N_("Contact"), required=False, limit=200)
        letter = self.new_letter(
            channel=channel, subject=subject, body=body, anonymous=anonymous, received_on=day
        )
        letter.writer_name = name
        letter.writer_contact = contact
        letter.registered_by_id = office_person_id
        letter.follow_up.events[-1].person_id = office_person_id  # registered by the school office
        self.session.flush()
        return letter

    def today(self) -> dt.date:
        return self.loop.today()

    # -- reading --------------------------------------------------------------------------------------------
    def get(self, letter_id: int) -> Letter:
        letter = get_scoped(self.session, Letter, letter_id, self.institution_id)
        if letter is None:
            raise NotFound("No such letter.")
        return letter

    def of_follow_up(self, fu: FollowUp) -> Letter:
        if fu.letter is None:
            raise NotFound("No such letter.")
        return fu.letter

    @staticmethod
    def is_writer(letter: Letter, person_id: int | None, platform_user_id: int | None) -> bool:
        return (person_id is not None and letter.writer_person_id == person_id) or (
            platform_user_id is not None and letter.writer_platform_user_id == platform_user_id
        )

    def mine(self, person_id: int | None, platform_user_id: int | None) -> list[Letter]:
        """The letters this person wrote in Tingke (a student: only their own, by their LMS identity)."""
        conditions = []
        if person_id is not None:
            conditions.append(Letter.writer_person_id == person_id)
        if platform_user_id is not None:
            conditions.append(Letter.writer_platform_user_id == platform_user_id)
        if not conditions:
            return []
        return list(
            self.session.scalars(
                select(Letter)
                .where(Letter.institution_id == self.institution_id, Letter.channel == LetterChannel.TOOL)
                .where(or_(*conditions))
                .order_by(Letter.created_at.desc())
            )
        )

    def mine_one(self, letter_id: int, person_id: int | None, platform_user_id: int | None) -> Letter:
        """One of the writer's own letters; anybody else's is "no such letter" (nothing tells it exists)."""
        letter = get_scoped(self.session, Letter, letter_id, self.institution_id)
        if letter is None or not self.is_writer(letter, person_id, platform_user_id):
            raise NotFound("No such letter.")
        return letter

    @staticmethod
    def writer_for(letter: Letter, office: bool) -> str | None:
        """The writer as a viewer may see them: the school office always; anybody else not when anonymous
        (``None``)."""
        if letter.anonymous and not office:
            return None
        who = letter.writer_name or (letter.writer_person.name if letter.writer_person else "")
        if letter.writer_contact and office:
            who = f"{who}（{letter.writer_contact}）" if who else letter.writer_contact
        return who

    def office_list(self, which: str = "open") -> list[Letter]:
        """``open`` (not closed), ``screening`` (waiting to be screened), ``check`` (answers to check),
        ``overdue``, ``closed`` or ``all``."""
        stmt = (
            select(Letter)
            .join(FollowUp, FollowUp.id == Letter.follow_up_id)
            .where(Letter.institution_id == self.institution_id)
        )
        if which == "open":
            stmt = stmt.where(FollowUp.status != FollowUpStatus.CLOSED)
        elif which == "screening":
            stmt = stmt.where(FollowUp.status == FollowUpStatus.RECEIVED)
        elif which == "check":
            stmt = stmt.where(FollowUp.status == FollowUpStatus.ANSWERED)
        elif which == "closed":
            stmt = stmt.where(FollowUp.status == FollowUpStatus.CLOSED)
        letters = list(self.session.scalars(stmt.order_by(Letter.received_on.desc(), Letter.id.desc())))
        if which == "overdue":
            today = self.today()
            letters = [
                x for x in letters if follow_up_overdue(x.follow_up.status, x.follow_up.deadline, today)
            ]
        return letters

    def for_leader(self, person_id: int) -> list[Letter]:
        """Letters routed to this leader (all states, newest first)."""
        return list(
            self.session.scalars(
                select(Letter)
                .join(FollowUp, FollowUp.id == Letter.follow_up_id)
                .where(Letter.institution_id == self.institution_id, FollowUp.leader_id == person_id)
                .order_by(Letter.received_on.desc(), Letter.id.desc())
            )
        )

    def counts(self) -> dict[str, int]:
        """For the school office's panel: to screen, answers to check, overdue, open."""
        today = self.today()
        rows = self.session.execute(
            select(FollowUp.status, FollowUp.deadline).where(
                FollowUp.institution_id == self.institution_id,
                FollowUp.kind == FollowUpKind.LETTER,
                FollowUp.status != FollowUpStatus.CLOSED,
            )
        ).all()
        return {
            "screening": sum(1 for s, _ in rows if s == FollowUpStatus.RECEIVED),
            "check": sum(1 for s, _ in rows if s == FollowUpStatus.ANSWERED),
            "overdue": sum(1 for s, d in rows if follow_up_overdue(s, d, today)),
            "open": len(rows),
        }

    # -- the office's steps ---------------------------------------------------------------------------------
    def route(
        self,
        letter: Letter,
        acting: Acting,
        *,
        area: object,
        leader: object,
        deadline: object,
        note: object = "",
    ) -> FollowUp:
        """Accepted and routed to the leader in charge: ``leader`` is a person id, or ``auto`` for the
        leader the division of work names for ``area`` in the academic year the letter was received."""
        if area not in self.division.area_codes():
            raise refuse(N_("Area: choose one of the areas of the division of work."))
        year = academic_year_of(letter.received_on, self.policy.contact.academic_year_start)
        if leader in (AUTO, "", None):
            person = self.division.leader_for(str(area), year)
            if person is None:
                raise refuse(
                    N_(
                        "Nobody is in charge of %(area)s in %(year)s: choose a leader, or set the division "
                        "of work."
                    ),
                    area=self.policy.contact.area_label(str(area)),
                    year=year,
                )
        else:
            person = self.division.leader(leader, year)
        day = parse_day(deadline, N_("Deadline"))
        return self.loop.accept(
            letter.follow_up,
            acting,
            deadline=day,
            leader_id=person.id,
            area=str(area),
            note=clean_text(note, N_("Note"), required=False),
        )

    def screen_out(
        self, letter: Letter, acting: Acting, outcome: str, reason: object, duplicate_of: object = None
    ) -> FollowUp:
        """Closed at screening: a duplicate (of an earlier letter, when named) or not for the leaders."""
        if duplicate_of not in (None, ""):
            earlier = get_scoped(self.session, Letter, duplicate_of, self.institution_id)
            if earlier is None or earlier.id == letter.id:
                raise refuse(N_("Duplicate of: choose an earlier letter."))
            letter.duplicate_of_id = earlier.id
        return self.loop.close(letter.follow_up, acting, outcome, reason)

    def leaders_with_areas(self, year: str) -> list[tuple[Person, list[str]]]:
        areas = self.division.areas_of(year)
        return [(p, areas.get(p.id, [])) for p in self.division.leaders(year)]


@register_audience(Audience.LETTER_WRITER)
def wrote_a_letter(session: Session, institution_id: int, person_id: int, today: dt.date) -> bool:
    """Whoever wrote a letter on the roster hears when its answer is released (``FollowUpService``)."""
    found = session.scalar(
        select(Letter.id)
        .where(Letter.institution_id == institution_id, Letter.writer_person_id == person_id)
        .limit(1)
    )
    return found is not None
