"""The one follow-up loop of letters (C-6b) and proposals (C-6c): routed item → the unit answers → the school
office checks → released to the writer or proposer → closed.

States (``FollowUpStatus``) and steps, the same machine for both kinds; what differs is data (``SPECS``):

    received ──accept──▶ with_leader ──instruct──▶ with_unit ──answer──▶ answered ──release──▶ closed
       │        (letters: the leader in charge writes the 批示 and names the unit)    │  (letters)
       │        (proposals: accept goes straight to with_unit)          ◀──return─────┤
       │                                                                              └─release──▶ released
       └──close (with a reason: duplicate, not for the leaders, declined)──▶ closed      (proposals)
                                                                     released ──satisfaction──▶ closed
                                                       (not satisfied in round 1 ──▶ with_unit, round 2)

The office may also withdraw any open item, with a reason. Nothing closes without a released answer or a
written reason (``_close``). The deadline runs while the leader or the unit owes a step
(``models.follow_up_overdue``). Authorization is decided before the state: someone with no part in an item
gets 403 for any step, never a 409 that tells where it stands.

Telling people (docs/decisions.md N-2, issue 15 §1): whenever a step hands the item to someone — the leader in
charge (accept, reroute), the handling and assisting units (instruct, a proposal's accept, reroute, return,
round 2) — they are told through ``NotificationService.notify``; the unit's people are the problem loop's
(``ProblemService.handlers_of``). The worker's tick tells whoever owes the step of an overdue item, once per
deadline (``announce_overdue``, claimed by a conditional UPDATE). A letter's writer hears when the answer is
released. No message names the writer: an anonymous letter stays anonymous to everyone but the office.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lti_tool import clock
from lti_tool.db import get_scoped, utcnow
from lti_tool.directory.models import Person, Unit
from lti_tool.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.notifications.events import Event
from lti_tool.notifications.services import NotificationService
from lti_tool.outreach.models import (
    HANDLING_STATUSES,
    FollowUp,
    FollowUpEvent,
    FollowUpKind,
    FollowUpOutcome,
    FollowUpStatus,
    FollowUpUnit,
    Satisfaction,
    follow_up_overdue,
)
from lti_tool.policy.schema import Policy
from lti_tool.problems.services import ProblemService
from lti_tool.tenancy import Institution

log = logging.getLogger(__name__)

OFFICE, LEADER, UNIT, HELPER = "office", "leader", "unit", "helper"
TEXT_MAX = 10_000
MAX_ROUNDS = 2
"""An unsatisfied proposer sends the answer back once; the second answer closes the proposal whatever they
say (their satisfaction is recorded)."""


@dataclass(frozen=True)
class KindSpec:
    leader_step: bool
    """Letters go to the leader in charge, who instructs (批示) and names the handling unit."""
    asks_satisfaction: bool
    """Proposals: the proposer says whether they are satisfied with the released answer."""
    close_outcomes: tuple[str, ...]
    """Reasons the office may close a received item without handling it."""


SPECS = {
    FollowUpKind.LETTER.value: KindSpec(
        leader_step=True,
        asks_satisfaction=False,
        close_outcomes=(FollowUpOutcome.DUPLICATE.value, FollowUpOutcome.NOT_FOR_LEADERS.value),
    ),
    FollowUpKind.PROPOSAL.value: KindSpec(
        leader_step=False, asks_satisfaction=True, close_outcomes=(FollowUpOutcome.DECLINED.value,)
    ),
}

# step → (the statuses it starts from, who may take it)
STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": ((FollowUpStatus.RECEIVED,), OFFICE),
    "close": ((FollowUpStatus.RECEIVED,), OFFICE),
    "reroute": ((FollowUpStatus.WITH_LEADER, FollowUpStatus.WITH_UNIT), OFFICE),
    "instruct": ((FollowUpStatus.WITH_LEADER,), LEADER),
    "answer": ((FollowUpStatus.WITH_UNIT,), UNIT),
    "return": ((FollowUpStatus.ANSWERED,), OFFICE),
    "release": ((FollowUpStatus.ANSWERED,), OFFICE),
    "satisfaction": ((FollowUpStatus.RELEASED,), "originator"),
    "withdraw": (
        (
            FollowUpStatus.RECEIVED,
            FollowUpStatus.WITH_LEADER,
            FollowUpStatus.WITH_UNIT,
            FollowUpStatus.ANSWERED,
            FollowUpStatus.RELEASED,
        ),
        OFFICE,
    ),
}


@dataclass(frozen=True)
class Acting:
    """Who takes a step: their roster person (if any) and whether they act as the school office."""

    person_id: int | None
    office: bool = False
    originator: bool = False
    """The writer or proposer of the item (decided by the letter or proposal service)."""


def refuse(detail: str, **params: object) -> ValidationFailed:
    """A 422 whose detail names the field and what is wrong; ``field`` is a msgid (``N_``), translated on
    the page like the detail itself."""
    return ValidationFailed("Nothing was saved. Please correct this:", details=[(detail, dict(params))])


def clean_text(value: object, field: str, *, required: bool = True, limit: int = TEXT_MAX) -> str:
    """A text field: stripped, required unless said, at most ``limit`` characters; else a clear 422."""
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise refuse(N_("%(field)s: please fill this in."), field=field)
    if len(text) > limit:
        raise refuse(N_("%(field)s: at most %(limit)s characters."), field=field, limit=limit)
    return text


def parse_day(value: object, field: str, *, required: bool = True) -> dt.date | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise refuse(N_("%(field)s: please fill this in."), field=field)
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise refuse(
            N_("%(field)s: “%(value)s” is not a date (YYYY-MM-DD)."), field=field, value=text[:40]
        ) from None


class FollowUpService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    # -- time -----------------------------------------------------------------------------------------------
    def today(self) -> dt.date:
        return clock.today(self.session.get(Institution, self.institution_id))

    def is_overdue(self, fu: FollowUp, today: dt.date | None = None) -> bool:
        return follow_up_overdue(fu.status, fu.deadline, today or self.today())

    # -- reading --------------------------------------------------------------------------------------------
    def get(self, follow_up_id: int) -> FollowUp:
        fu = get_scoped(self.session, FollowUp, follow_up_id, self.institution_id)
        if fu is None:
            raise NotFound("No such item.")
        return fu

    def _of_unit(self, unit_id: int) -> ColumnElement[bool]:
        helping = select(FollowUpUnit.follow_up_id).where(FollowUpUnit.unit_id == unit_id)
        return and_(
            FollowUp.institution_id == self.institution_id,
            FollowUp.status != FollowUpStatus.RECEIVED,
            or_(FollowUp.unit_id == unit_id, FollowUp.id.in_(helping)),
        )

    def for_unit(self, unit_id: int) -> list[FollowUp]:
        """Letters and proposals whose handling unit — or an assisting unit — is ``unit_id``: the unit's one
        list for both kinds, earliest deadline first."""
        return list(
            self.session.scalars(
                select(FollowUp).where(self._of_unit(unit_id)).order_by(FollowUp.deadline, FollowUp.id)
            )
        )

    def has_items_for_unit(self, unit_id: int) -> bool:
        """Whether ``for_unit`` would list anything (one EXISTS: the nav asks on every page)."""
        return bool(self.session.scalar(select(exists().where(self._of_unit(unit_id)))))

    def unit_of(self, person_id: int | None) -> int | None:
        if person_id is None:
            return None
        return self.session.scalar(
            select(Person.unit_id).where(Person.id == person_id, Person.institution_id == self.institution_id)
        )

    def roles(self, fu: FollowUp, acting: Acting) -> set[str]:
        roles: set[str] = set()
        if acting.office:
            roles.add(OFFICE)
        if acting.originator:
            roles.add("originator")
        if acting.person_id is not None:
            if fu.leader_id == acting.person_id:
                roles.add(LEADER)
            unit_id = self.unit_of(acting.person_id)
            if unit_id is not None:
                if fu.unit_id == unit_id:
                    roles.add(UNIT)
                if any(h.unit_id == unit_id for h in fu.helpers):
                    roles.add(HELPER)
        return roles

    def can_see(self, fu: FollowUp, acting: Acting) -> bool:
        return bool(self.roles(fu, acting))

    def allowed(self, fu: FollowUp, acting: Acting) -> list[str]:
        """The steps ``acting`` may take now (the page shows these forms and no others)."""
        roles = self.roles(fu, acting)
        spec = SPECS[fu.kind]
        out = []
        for step, (starts, who) in STEPS.items():
            if fu.status not in starts or who not in roles:
                continue
            if step == "satisfaction" and not spec.asks_satisfaction:
                continue
            out.append(step)
        return out

    def _require(self, fu: FollowUp, step: str, acting: Acting) -> None:
        starts, who = STEPS[step]
        roles = self.roles(fu, acting)
        if who not in roles:  # before the state: an outsider learns nothing from a 409
            raise Forbidden("You have no part in this step of the item.")
        if fu.status not in starts:
            raise Conflict("This item has moved on since the page was loaded; reload the page.")

    def _event(self, fu: FollowUp, acting: Acting, step: str, note: str = "") -> None:
        fu.events.append(
            FollowUpEvent(person_id=acting.person_id, step=step, status=fu.status, note=note[:TEXT_MAX])
        )

    def _unit(self, unit_id: object, label: str) -> Unit:
        unit = get_scoped(self.session, Unit, unit_id, self.institution_id) if unit_id else None
        if unit is None:
            raise refuse(N_("%(field)s: choose a unit."), field=label)
        return unit

    def _deadline(self, value: dt.date | None) -> dt.date:
        if value is None:
            raise refuse(N_("%(field)s: please fill this in."), field=N_("Deadline"))
        if value < self.today():
            raise refuse(N_("Deadline: the deadline cannot be in the past."))
        return value

    def suggested_deadline(self, kind: str) -> dt.date:
        days = (
            self.policy.contact.letter_answer_days
            if kind == FollowUpKind.LETTER
            else self.policy.contact.proposal_answer_days
        )
        return self.today() + dt.timedelta(days=days)

    # -- telling people -------------------------------------------------------------------------------------
    def unit_people(self, unit_ids: Iterable[int | None]) -> list[int]:
        """Who hears of an item for these units: the problem loop's handlers (a functional department's
        people; another unit's position holders)."""
        problems = ProblemService(self.session, self.institution_id, self.policy)
        return sorted({p for u in unit_ids if u is not None for p in problems.handlers_of(u)})

    @staticmethod
    def _words(fu: FollowUp) -> dict[str, object]:
        """The message's words: the letter's subject or the proposal's title and the deadline — never who
        wrote it (P-16)."""
        return {"title": fu.title[:200], "deadline": fu.deadline.isoformat() if fu.deadline else ""}

    def _tell_routed(self, fu: FollowUp, people: Iterable[int | None]) -> None:
        """The item reached ``people`` (a leader, or a unit's handlers): one notification call."""
        event = Event.LETTER_ROUTED if fu.kind == FollowUpKind.LETTER else Event.PROPOSAL_ROUTED
        fu.overdue_told_for = None  # a new holder of an overdue item hears that it is overdue, once
        self.session.flush()
        rows = NotificationService(self.session, self.institution_id).notify(
            event, people, self._words(fu), ref=f"follow-up:{fu.id}:{len(fu.events)}", once=True
        )
        log.info(
            "follow-up %s (%s) routed: %s notifications (institution %s)",
            fu.id,
            fu.kind,
            len(rows),
            self.institution_id,
        )

    def _tell_units(self, fu: FollowUp) -> None:
        self._tell_routed(fu, self.unit_people([fu.unit_id, *(h.unit_id for h in fu.helpers)]))

    def overdue_candidates(self, today: dt.date | None = None) -> list[FollowUp]:
        """Open items past their deadline whose overdue notice for that deadline is not yet sent."""
        today = today or self.today()
        return list(
            self.session.scalars(
                select(FollowUp)
                .where(
                    FollowUp.institution_id == self.institution_id,
                    FollowUp.status.in_(HANDLING_STATUSES),
                    FollowUp.deadline < today,
                    or_(FollowUp.overdue_told_for.is_(None), FollowUp.overdue_told_for != FollowUp.deadline),
                )
                .order_by(FollowUp.id)
            )
        )

    def claim_overdue(self, fu: FollowUp) -> bool:
        """Claim the overdue notice of ``fu``'s current deadline: one conditional UPDATE, so of two workers
        holding the same candidate only the first tells (the second's UPDATE matches no row; W-3)."""
        claimed = self.session.execute(
            update(FollowUp)
            .where(
                FollowUp.id == fu.id,
                FollowUp.institution_id == self.institution_id,
                FollowUp.deadline == fu.deadline,
                FollowUp.status.in_(HANDLING_STATUSES),
                or_(FollowUp.overdue_told_for.is_(None), FollowUp.overdue_told_for != FollowUp.deadline),
            )
            .values(overdue_told_for=fu.deadline)
            .execution_options(synchronize_session=False)
        )
        self.session.expire(fu, ["overdue_told_for"])
        return bool(getattr(claimed, "rowcount", 0) == 1)

    def announce_overdue(self, today: dt.date | None = None) -> int:
        """The worker's tick: tell whoever owes the step of each newly overdue item (the leader before the
        批示, else the handling unit), once per item and deadline; returns how many rows were written."""
        notifications = NotificationService(self.session, self.institution_id)
        told = 0
        for fu in self.overdue_candidates(today):
            if not self.claim_overdue(fu):
                continue
            people = (
                [fu.leader_id] if fu.status == FollowUpStatus.WITH_LEADER else self.unit_people([fu.unit_id])
            )
            event = Event.LETTER_OVERDUE if fu.kind == FollowUpKind.LETTER else Event.PROPOSAL_OVERDUE
            told += len(
                notifications.notify(
                    event, people, self._words(fu), ref=f"follow-up-overdue:{fu.id}:{fu.deadline}", once=True
                )
            )
        if told:
            log.info(
                "overdue letters and proposals: %s notifications (institution %s)", told, self.institution_id
            )
        return told

    def _tell_originator(self, fu: FollowUp) -> None:
        """An answer is released: the letter's writer (anonymous or not) or the proposer hears it, when on
        the roster; a proposal's second answer (after "not satisfied") is told again."""
        if fu.letter is not None:
            event, person_id = Event.LETTER_ANSWERED, fu.letter.writer_person_id
        elif fu.proposal is not None:
            event, person_id = Event.PROPOSAL_ANSWERED, fu.proposal.proposer_id
        else:
            return
        if person_id is None:
            return
        NotificationService(self.session, self.institution_id).notify(
            event,
            [person_id],
            {"title": fu.title[:200]},
            ref=f"follow-up-answered:{fu.id}:{fu.round}",
            once=True,
        )

    # -- the steps ------------------------------------------------------------------------------------------
    def create(self, kind: str) -> FollowUp:
        fu = FollowUp(institution_id=self.institution_id, kind=kind, status=FollowUpStatus.RECEIVED)
        self.session.add(fu)
        return fu

    def received(self, fu: FollowUp, person_id: int | None, note: str = "") -> None:
        self._event(fu, Acting(person_id), "received", note)

    def accept(
        self,
        fu: FollowUp,
        acting: Acting,
        *,
        deadline: dt.date | None,
        leader_id: int | None = None,
        area: str = "",
        unit_id: object = None,
        helper_unit_ids: Iterable[object] = (),
        note: str = "",
    ) -> FollowUp:
        """Accepted: a letter goes to the leader in charge, a proposal to its handling unit(s)."""
        self._require(fu, "accept", acting)
        spec = SPECS[fu.kind]
        fu.deadline = self._deadline(deadline)
        fu.area = area
        if spec.leader_step:
            if leader_id is None:
                raise refuse(N_("Leader in charge: choose a school leader."))
            fu.leader_id = leader_id
            fu.status = FollowUpStatus.WITH_LEADER
        else:
            self._assign_units(fu, unit_id, helper_unit_ids)
            fu.status = FollowUpStatus.WITH_UNIT
        self._event(fu, acting, "accept", note)
        self.session.flush()
        if fu.status == FollowUpStatus.WITH_LEADER:
            self._tell_routed(fu, [fu.leader_id])
        else:
            self._tell_units(fu)
        return fu

    def _assign_units(self, fu: FollowUp, unit_id: object, helper_unit_ids: Iterable[object]) -> None:
        lead = self._unit(unit_id, N_("Handling unit"))
        helpers: list[Unit] = []
        for raw in helper_unit_ids:
            if raw in (None, ""):
                continue
            unit = self._unit(raw, N_("Assisting units"))
            if unit.id != lead.id and unit.id not in {h.id for h in helpers}:
                helpers.append(unit)
        fu.unit_id = lead.id
        fu.unit = lead
        fu.helpers[:] = [
            FollowUpUnit(institution_id=self.institution_id, unit_id=h.id, unit=h) for h in helpers
        ]

    def reroute(
        self,
        fu: FollowUp,
        acting: Acting,
        *,
        leader_id: int | None = None,
        unit_id: object = None,
        deadline: dt.date | None = None,
        note: str = "",
    ) -> FollowUp:
        """The office hands the item to another leader (before the 批示) or another unit, or moves the
        deadline (督办)."""
        self._require(fu, "reroute", acting)
        before = (fu.leader_id, fu.unit_id)
        if fu.status == FollowUpStatus.WITH_LEADER and leader_id is not None:
            fu.leader_id = leader_id
        if fu.status == FollowUpStatus.WITH_UNIT and unit_id not in (None, ""):
            fu.unit_id = self._unit(unit_id, N_("Handling unit")).id
        if deadline is not None:
            fu.deadline = self._deadline(deadline)
        self._event(fu, acting, "reroute", note)
        self.session.flush()
        if fu.status == FollowUpStatus.WITH_LEADER and fu.leader_id != before[0]:
            self._tell_routed(fu, [fu.leader_id])
        elif fu.status == FollowUpStatus.WITH_UNIT and fu.unit_id != before[1]:
            self._tell_routed(fu, self.unit_people([fu.unit_id]))
        return fu

    def close(self, fu: FollowUp, acting: Acting, outcome: str, reason: object) -> FollowUp:
        """Screened out (a duplicate, not for the leaders, a declined proposal): closed with its reason."""
        self._require(fu, "close", acting)
        if outcome not in SPECS[fu.kind].close_outcomes:
            raise refuse(N_("Decision: choose one of the decisions offered."))
        self._close(fu, acting, outcome, clean_text(reason, N_("Reason")), "close")
        return fu

    def withdraw(self, fu: FollowUp, acting: Acting, reason: object) -> FollowUp:
        self._require(fu, "withdraw", acting)
        self._close(fu, acting, FollowUpOutcome.WITHDRAWN, clean_text(reason, N_("Reason")), "withdraw")
        return fu

    def _close(self, fu: FollowUp, acting: Acting, outcome: str, reason: str, step: str) -> None:
        """The only way an item closes: with its released answer, or with a written reason."""
        if outcome == FollowUpOutcome.ANSWERED:
            if not fu.answer.strip() or fu.released_at is None:
                raise Conflict("An item closes only with a released answer or a recorded reason.")
        elif not reason.strip():
            raise refuse(N_("%(field)s: please fill this in."), field=N_("Reason"))
        fu.outcome = outcome
        fu.reason = reason
        fu.status = FollowUpStatus.CLOSED
        fu.closed_at = utcnow()
        self._event(fu, acting, step, reason)
        self.session.flush()
        log.info("follow-up %s (%s) closed: %s", fu.id, fu.kind, outcome)

    def instruct(
        self,
        fu: FollowUp,
        acting: Acting,
        instruction: object,
        unit_id: object,
        helper_unit_ids: Iterable[object] = (),
    ) -> FollowUp:
        """The leader in charge writes the instruction (批示) and names the handling unit."""
        self._require(fu, "instruct", acting)
        text = clean_text(instruction, N_("Instruction (批示)"))
        self._assign_units(fu, unit_id, helper_unit_ids)
        fu.instruction = text
        fu.instructed_at = utcnow()
        fu.status = FollowUpStatus.WITH_UNIT
        self._event(fu, acting, "instruct", text)
        self.session.flush()
        self._tell_units(fu)
        return fu

    def answer(self, fu: FollowUp, acting: Acting, text: object) -> FollowUp:
        self._require(fu, "answer", acting)
        fu.answer = clean_text(text, N_("Answer"))
        fu.answered_at = utcnow()
        fu.answered_by_id = acting.person_id
        fu.status = FollowUpStatus.ANSWERED
        self._event(fu, acting, "answer", fu.answer)
        self.session.flush()
        return fu

    def return_to_unit(
        self, fu: FollowUp, acting: Acting, note: object, deadline: dt.date | None = None
    ) -> FollowUp:
        """The office's check finds the answer wanting: back to the unit, saying why."""
        self._require(fu, "return", acting)
        text = clean_text(note, N_("Why it goes back"))
        if deadline is not None:
            fu.deadline = self._deadline(deadline)
        fu.status = FollowUpStatus.WITH_UNIT
        self._event(fu, acting, "return", text)
        self.session.flush()
        self._tell_routed(fu, self.unit_people([fu.unit_id]))
        return fu

    def release(self, fu: FollowUp, acting: Acting, answer: object = None) -> FollowUp:
        """The office checked the answer (it may tidy its wording) and releases it to the writer or
        proposer; a letter is then closed, a proposal waits for the proposer's satisfaction."""
        self._require(fu, "release", acting)
        if answer is not None and isinstance(answer, str) and answer.strip():
            fu.answer = clean_text(answer, N_("Answer"))
        fu.released_at = utcnow()
        if SPECS[fu.kind].asks_satisfaction:
            fu.status = FollowUpStatus.RELEASED
            self._event(fu, acting, "release")
            self.session.flush()
        else:
            self._close(fu, acting, FollowUpOutcome.ANSWERED, "", "release")
        self._tell_originator(fu)
        return fu

    def satisfaction(self, fu: FollowUp, acting: Acting, value: str, note: object = "") -> FollowUp:
        """The proposer's view of the answer: satisfied or basically satisfied closes; not satisfied sends
        it back to the unit once (round 2, a new deadline)."""
        self._require(fu, "satisfaction", acting)
        if value not in {s.value for s in Satisfaction}:
            raise refuse(N_("Satisfaction: choose satisfied, basically satisfied or not satisfied."))
        text = clean_text(note, N_("Comment"), required=value == Satisfaction.UNSATISFIED)
        if value == Satisfaction.UNSATISFIED and fu.round < MAX_ROUNDS:
            fu.round += 1
            fu.status = FollowUpStatus.WITH_UNIT
            fu.released_at = None
            fu.deadline = self.suggested_deadline(fu.kind)
            self._event(fu, acting, "satisfaction", text)
            self.session.flush()
            self._tell_routed(fu, self.unit_people([fu.unit_id]))
            return fu
        self._close(fu, acting, FollowUpOutcome.ANSWERED, "", "satisfaction")
        fu.events[-1].note = text
        return fu
