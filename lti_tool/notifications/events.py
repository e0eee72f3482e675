"""The event types and their messages: msgids (English) translated into each person's language.

A message names things a person knows (a course, a date, a problem's text), never an internal code; the
caller passes those words as ``params`` — a word that has a name in each language (a policy's problem
category) as ``Localized``, so each reader gets theirs. Adding an event is one entry in ``TEMPLATES`` and
one in ``AUDIENCES``: the preferences page, the log and the delivery read these tables.

Who an event can concern (``AUDIENCES``) is data: each event names the kinds of people (``Audience``) the
code tells of it, and a person's preferences page lists only the events of the audiences they belong to.
Which audiences a person belongs to comes from what they hold: a persona (computed at launch from the
roster and the policy: a position with a duty, a functional department, timetabled classes, a party
branch), or a fact a domain registers here without the notifications importing it
(``register_audience``: the problem loop's unit heads, the school leaders of the division of work, the
writers of letters). An event must name every audience its callers send it to, or someone would get a
message they cannot turn off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from babel.support import NullTranslations, Translations

from lti_tool.i18n import N_, TRANSLATIONS_DIR, ensure_compiled

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Event(StrEnum):
    RECORD_AVAILABLE = "record_available"
    RECORD_REPLIED = "record_replied"
    PROBLEM_ROUTED = "problem_routed"
    PROBLEM_OVERDUE = "problem_overdue"
    PROBLEM_RESOLVED = "problem_resolved"
    GROUP_INVITED = "group_invited"
    REMINDER = "reminder"
    BRANCH_CONFIRMATION = "branch_confirmation"
    LETTER_ROUTED = "letter_routed"
    LETTER_OVERDUE = "letter_overdue"
    PROPOSAL_ROUTED = "proposal_routed"
    PROPOSAL_OVERDUE = "proposal_overdue"
    LETTER_ANSWERED = "letter_answered"
    PROPOSAL_ANSWERED = "proposal_answered"
    BULLETIN_ISSUED = "bulletin_issued"


@dataclass(frozen=True)
class Template:
    label: str
    """What the preferences page calls the event."""
    subject: str
    body: str


TEMPLATES: dict[Event, Template] = {
    Event.RECORD_AVAILABLE: Template(
        N_("An observation record of my class is available"),
        N_("Feedback on your class %(course)s"),
        N_(
            "An observation record of your class %(course)s on %(date)s is available. "
            "Open Tingke to read it and reply."
        ),
    ),
    Event.RECORD_REPLIED: Template(
        N_("A teacher replied to my observation record"),
        N_("%(teacher)s replied to your record"),
        N_("%(teacher)s replied to your observation record of %(course)s on %(date)s: %(reply)s"),
    ),
    Event.PROBLEM_ROUTED: Template(
        N_("A problem was routed to my unit"),
        N_("A problem for %(unit)s"),
        N_("A problem was routed to %(unit)s (%(category)s, %(room)s): %(description)s"),
    ),
    Event.PROBLEM_OVERDUE: Template(
        N_("A problem of my unit is overdue"),
        N_("Overdue problem for %(unit)s"),
        N_(
            "The problem routed to %(unit)s on %(date)s is still open after %(days)s days "
            "(%(category)s, %(room)s): %(description)s"
        ),
    ),
    Event.PROBLEM_RESOLVED: Template(
        N_("A problem I raised was resolved"),
        N_("Your problem was resolved"),
        N_(
            "%(unit)s resolved the problem you raised on %(date)s (%(description)s): %(note)s. "
            "Please confirm in Tingke whether it is solved."
        ),
    ),
    Event.GROUP_INVITED: Template(
        N_("A group observation invites me"),
        N_("%(author)s invites you to a group observation"),
        N_(
            "%(author)s added you to the group observation of %(course)s on %(date)s. "
            "Open Tingke to co-sign the record or decline."
        ),
    ),
    Event.REMINDER: Template(
        N_("Pacing reminders at each checkpoint"),
        "%(subject)s",
        "%(body)s",
    ),
    Event.BRANCH_CONFIRMATION: Template(
        N_("A branch activity waits for my confirmation"),
        N_("Please confirm a branch activity"),
        N_(
            "%(leader)s recorded attending the activity of %(branch)s on %(date)s (%(topic)s). "
            "Open Tingke to confirm it or say it did not happen."
        ),
    ),
    Event.LETTER_ROUTED: Template(
        N_("A letter to the school leaders was routed to me"),
        N_("A letter for you: %(title)s"),
        N_('The letter "%(title)s" was routed to you; answer by %(deadline)s.'),
    ),
    Event.LETTER_OVERDUE: Template(
        N_("A letter to the school leaders is overdue"),
        N_("Overdue letter: %(title)s"),
        N_('The letter "%(title)s" was due on %(deadline)s and has no answer yet.'),
    ),
    Event.PROPOSAL_ROUTED: Template(
        N_("A congress proposal was routed to me"),
        N_("A proposal for you: %(title)s"),
        N_('The proposal "%(title)s" was assigned to you; answer by %(deadline)s.'),
    ),
    Event.PROPOSAL_OVERDUE: Template(
        N_("A congress proposal is overdue"),
        N_("Overdue proposal: %(title)s"),
        N_('The proposal "%(title)s" was due on %(deadline)s and has no answer yet.'),
    ),
    Event.LETTER_ANSWERED: Template(
        N_("The answer to my letter to the school leaders was released"),
        N_("Your letter was answered: %(title)s"),
        N_('The answer to your letter "%(title)s" was released. Open Tingke to read it under "My letters".'),
    ),
    Event.PROPOSAL_ANSWERED: Template(
        N_("The answer to my congress proposal was released"),
        N_("Your proposal was answered: %(title)s"),
        N_(
            'The answer to your proposal "%(title)s" was released. Open Tingke to read it under "My congress '
            'proposals" and say whether you are satisfied.'
        ),
    ),
    Event.BULLETIN_ISSUED: Template(
        N_("A bulletin names me among those short of a duty"),
        N_("Bulletin %(number)s names you"),
        N_(
            "Bulletin %(number)s of %(issuer)s (%(date)s) lists duties of yours still short on %(as_of)s: "
            "%(duties)s. Open Tingke to see your lines."
        ),
    ),
}


class Audience(StrEnum):
    TEACHER = "teacher"
    """Teaches a timetabled section (the teacher persona): their classes' records."""
    OBSERVER = "observer"
    """Holds a position with an observing, patrol or contact duty (the observer persona): records,
    groups, reminders, the problems they raised, bulletins naming them."""
    UNIT_HANDLER = "handler"
    """Works in a functional department (the handler persona): problems, letters and proposals routed
    to the unit."""
    UNIT_HEAD = "unit_head"
    """Holds a position in a unit that is not a functional department (a college's heads): that unit's
    problems, letters and proposals (problems.services ``handlers_of``)."""
    SCHOOL_LEADER = "school_leader"
    """A school leader of the division of work: letters routed by it (outreach.division)."""
    BRANCH_SECRETARY = "branch_secretary"
    """Secretary of a party branch (the persona): branch activities to confirm."""
    LETTER_WRITER = "letter_writer"
    """Wrote a letter to the school leaders (outreach.letters): the answer's release."""
    PROPOSER = "proposer"
    """Made a congress proposal, on the roster (outreach.proposals): the answer's release."""


AUDIENCES: dict[Event, frozenset[Audience]] = {
    Event.RECORD_AVAILABLE: frozenset({Audience.TEACHER}),
    Event.RECORD_REPLIED: frozenset({Audience.OBSERVER}),
    Event.PROBLEM_ROUTED: frozenset({Audience.UNIT_HANDLER, Audience.UNIT_HEAD}),
    Event.PROBLEM_OVERDUE: frozenset({Audience.UNIT_HANDLER, Audience.UNIT_HEAD}),
    Event.PROBLEM_RESOLVED: frozenset({Audience.OBSERVER}),
    Event.GROUP_INVITED: frozenset({Audience.OBSERVER}),
    Event.REMINDER: frozenset({Audience.OBSERVER}),
    Event.BRANCH_CONFIRMATION: frozenset({Audience.BRANCH_SECRETARY}),
    Event.LETTER_ROUTED: frozenset({Audience.SCHOOL_LEADER, Audience.UNIT_HANDLER, Audience.UNIT_HEAD}),
    Event.LETTER_OVERDUE: frozenset({Audience.SCHOOL_LEADER, Audience.UNIT_HANDLER, Audience.UNIT_HEAD}),
    Event.PROPOSAL_ROUTED: frozenset({Audience.UNIT_HANDLER, Audience.UNIT_HEAD}),
    Event.PROPOSAL_OVERDUE: frozenset({Audience.UNIT_HANDLER, Audience.UNIT_HEAD}),
    Event.LETTER_ANSWERED: frozenset({Audience.LETTER_WRITER}),
    Event.PROPOSAL_ANSWERED: frozenset({Audience.PROPOSER}),
    Event.BULLETIN_ISSUED: frozenset({Audience.OBSERVER}),
}
"""Who each event can concern: the preferences page shows a person the events of their audiences."""

PERSONA_AUDIENCES: dict[str, Audience] = {
    "teacher": Audience.TEACHER,
    "observer": Audience.OBSERVER,
    "handler": Audience.UNIT_HANDLER,
    "branch_secretary": Audience.BRANCH_SECRETARY,
}
"""The audiences a persona (directory/personas.py) is."""

AudienceCheck = Callable[["Session", int, int, dt.date], bool]
"""(session, institution_id, person_id, the college's today) → whether the person belongs."""
_AUDIENCE_CHECKS: dict[Audience, AudienceCheck] = {}


def register_audience(audience: Audience) -> Callable[[AudienceCheck], AudienceCheck]:
    """Decorator for the domain that knows who belongs to ``audience`` (the same rule it tells people by)."""

    def decorator(fn: AudienceCheck) -> AudienceCheck:
        _AUDIENCE_CHECKS[audience] = fn
        return fn

    return decorator


def audience_checks() -> dict[Audience, AudienceCheck]:
    return dict(_AUDIENCE_CHECKS)


def events_for(audiences: set[Audience] | frozenset[Audience]) -> list[Event]:
    """The events that can concern someone of ``audiences``, in the table's order."""
    return [event for event in TEMPLATES if AUDIENCES[event] & audiences]


LANGUAGES = ("zh_CN", "en")


@dataclass(frozen=True)
class Localized:
    """A word a message names that has a name in each language (a policy's problem category): each
    reader's message shows theirs."""

    zh: str
    en: str = ""

    def text(self, language: str) -> str:
        return self.en if language_of(language) == "en" and self.en else self.zh


@cache
def translations(language: str) -> NullTranslations:
    if language.startswith("en"):
        return NullTranslations()
    ensure_compiled()
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")


def language_of(locale: str | None) -> str:
    return "en" if (locale or "").lower().startswith("en") else "zh_CN"


class _Words(dict):
    """A word the caller did not pass shows as a dash: a message is never the reason a domain action fails."""

    def __missing__(self, key: str) -> str:
        return "—"


def render(event: Event, params: dict[str, object], language: str) -> tuple[str, str]:
    """The subject and body of ``event`` in ``language`` (``zh_CN`` or ``en``)."""
    template = TEMPLATES[event]
    t = translations(language_of(language))
    lang = language_of(language)
    values = _Words(
        {k: "" if v is None else v.text(lang) if isinstance(v, Localized) else v for k, v in params.items()}
    )
    return t.gettext(template.subject) % values, t.gettext(template.body) % values


def label(event: str, language: str) -> str:
    template = TEMPLATES.get(Event(event)) if event in Event.__members__.values() else None
    return translations(language_of(language)).gettext(template.label) if template else event
