"""Congress proposals (C-6c, 六.2 「做好提案工作……做到案案有着落、件件有交代」) on the one follow-up loop.

Per session of the staff congress (教代会) or the student congress (学代会), numbered, the school office
registers each proposal (proposer, co-signers, title, content), accepts it — assigning a handling unit, any
assisting units and a deadline — or declines it with a reason. The unit answers, the office checks and
releases the answer, and the proposer says whether they are satisfied; "not satisfied" sends it back to the
unit once more. The proposer records that in Tingke when on the roster; the office records it from the
proposer's feedback form otherwise. The session's list shows every proposal's state until all are answered.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.db import get_scoped
from lti_tool.directory.models import Person
from lti_tool.errors import Conflict, NotFound
from lti_tool.i18n import N_
from lti_tool.notifications.events import Audience, register_audience
from lti_tool.outreach.followup import Acting, FollowUpService, clean_text, parse_day, refuse
from lti_tool.outreach.models import (
    CongressBody,
    CongressSession,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    FollowUpStatus,
    Proposal,
)
from lti_tool.policy.schema import Policy

log = logging.getLogger(__name__)


class ProposalService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.loop = FollowUpService(session, institution_id, policy)

    def today(self) -> dt.date:
        return self.loop.today()

    # -- sessions -------------------------------------------------------------------------------------------
    def sessions(self) -> list[CongressSession]:
        return list(
            self.session.scalars(
                select(CongressSession)
                .where(CongressSession.institution_id == self.institution_id)
                .order_by(CongressSession.held_on.desc(), CongressSession.id.desc())
            )
        )

    def congress(self, session_id: int) -> CongressSession:
        found = get_scoped(self.session, CongressSession, session_id, self.institution_id)
        if found is None:
            raise NotFound("No such congress session.")
        return found

    def create_session(
        self, *, body: object, number: object, title: object, held_on: object
    ) -> CongressSession:
        if body not in {b.value for b in CongressBody}:
            raise refuse(N_("Congress: choose the staff congress or the student congress."))
        text = str(number).strip() if isinstance(number, str | int) else ""
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 999:
            raise refuse(N_("Number: a session number between 1 and 999."))
        day = parse_day(held_on, N_("Held on"))
        exists = self.session.scalar(
            select(CongressSession.id).where(
                CongressSession.institution_id == self.institution_id,
                CongressSession.body == body,
                CongressSession.number == int(text),
            )
        )
        if exists is not None:
            raise Conflict("This congress already has a session numbered %(n)s.", n=int(text))
        found = CongressSession(
            institution_id=self.institution_id,
            body=str(body),
            number=int(text),
            title=clean_text(title, N_("Title"), limit=200),
            held_on=day,
        )
        self.session.add(found)
        self.session.flush()
        return found

    # -- proposals ------------------------------------------------------------------------------------------
    def get(self, proposal_id: int) -> Proposal:
        found = get_scoped(self.session, Proposal, proposal_id, self.institution_id)
        if found is None:
            raise NotFound("No such proposal.")
        return found

    def of_follow_up(self, fu: FollowUp) -> Proposal:
        if fu.proposal is None:
            raise NotFound("No such proposal.")
        return fu.proposal

    def register(
        self,
        congress: CongressSession,
        office_person_id: int | None,
        *,
        proposer_name: object,
        proposer_employee_no: object,
        cosigners: object,
        title: object,
        content: object,
    ) -> Proposal:
        """A proposal of the session, numbered after the last one."""
        name = clean_text(proposer_name, N_("Proposer"), limit=100)
        number_text = proposer_employee_no.strip() if isinstance(proposer_employee_no, str) else ""
        proposer = None
        if number_text:
            proposer = self.session.scalars(
                select(Person).where(
                    Person.institution_id == self.institution_id, Person.employee_no == number_text
                )
            ).first()
            if proposer is None:
                raise refuse(
                    N_("Proposer's employee number: “%(value)s” is not on the roster."),
                    value=number_text[:40],
                )
        last = self.session.scalar(
            select(func.max(Proposal.number)).where(Proposal.session_id == congress.id)
        )
        fu = self.loop.create(FollowUpKind.PROPOSAL)
        proposal = Proposal(
            institution_id=self.institution_id,
            follow_up=fu,
            session_id=congress.id,
            number=int(last or 0) + 1,
            proposer_name=name,
            proposer_id=proposer.id if proposer else None,
            cosigners=clean_text(cosigners, N_("Co-signers"), required=False, limit=2000),
            title=clean_text(title, N_("Title"), limit=200),
            content=clean_text(content, N_("Content")),
            registered_by_id=office_person_id,
        )
        self.session.add(proposal)
        self.session.flush()
        self.loop.received(fu, office_person_id)
        self.session.flush()
        return proposal

    def listing(self, congress: CongressSession) -> list[Proposal]:
        return list(
            self.session.scalars(
                select(Proposal)
                .where(Proposal.institution_id == self.institution_id, Proposal.session_id == congress.id)
                .order_by(Proposal.number)
            )
        )

    def tally(self, proposals: list[Proposal]) -> dict[str, int]:
        """Counts by state for the session's head: every state, overdue, and how many still await an
        answer (not closed) — C-6c is met when that is 0."""
        today = self.today()
        counts = Counter(p.follow_up.status for p in proposals)
        out = {s.value: counts.get(s.value, 0) for s in FollowUpStatus}
        out["overdue"] = sum(1 for p in proposals if self.loop.is_overdue(p.follow_up, today))
        out["declined"] = sum(1 for p in proposals if p.follow_up.outcome == FollowUpOutcome.DECLINED)
        out["unanswered"] = sum(1 for p in proposals if p.follow_up.status != FollowUpStatus.CLOSED)
        out["total"] = len(proposals)
        return out

    def mine(self, person_id: int | None) -> list[Proposal]:
        if person_id is None:
            return []
        return list(
            self.session.scalars(
                select(Proposal)
                .where(Proposal.institution_id == self.institution_id, Proposal.proposer_id == person_id)
                .order_by(Proposal.created_at.desc())
            )
        )

    def acting(self, proposal: Proposal, person_id: int | None, office: bool) -> Acting:
        """The proposer — or the school office, recording the proposer's feedback form — says whether they
        are satisfied."""
        return Acting(person_id, office=office, originator=office or proposal.proposer_id == person_id)

    # -- the office's steps ---------------------------------------------------------------------------------
    def accept(
        self,
        proposal: Proposal,
        acting: Acting,
        *,
        unit: object,
        helpers: Sequence[object],
        deadline: object,
        note: object = "",
    ) -> FollowUp:
        return self.loop.accept(
            proposal.follow_up,
            acting,
            deadline=parse_day(deadline, N_("Deadline")),
            unit_id=unit,
            helper_unit_ids=helpers,
            note=clean_text(note, N_("Note"), required=False),
        )

    def decline(self, proposal: Proposal, acting: Acting, reason: object) -> FollowUp:
        """Not accepted as a proposal (不予立案), with the reason the proposer reads."""
        return self.loop.close(proposal.follow_up, acting, FollowUpOutcome.DECLINED, reason)

    def satisfaction(self, proposal: Proposal, acting: Acting, value: str, note: object = "") -> FollowUp:
        fu = self.loop.satisfaction(proposal.follow_up, acting, value, note)
        proposal.satisfaction = value
        self.session.flush()
        return fu


@register_audience(Audience.PROPOSER)
def made_a_proposal(session: Session, institution_id: int, person_id: int, today: dt.date) -> bool:
    """A proposer on the roster hears when the answer to their proposal is released (``FollowUpService``)."""
    found = session.scalar(
        select(Proposal.id)
        .where(Proposal.institution_id == institution_id, Proposal.proposer_id == person_id)
        .limit(1)
    )
    return found is not None
