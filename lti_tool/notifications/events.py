"""The event types and their messages: msgids (English) translated into each person's language.

A message names things a person knows (a course, a date, a problem's text), never an internal code; the
caller passes those words as ``params``. Adding an event is one entry here: the preferences page, the
log and the delivery read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from babel.support import NullTranslations, Translations

from lti_tool.i18n import N_, TRANSLATIONS_DIR, ensure_compiled


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
    Event.BULLETIN_ISSUED: Template(
        N_("A bulletin names me among those short of a duty"),
        N_("Bulletin %(number)s names you"),
        N_(
            "Bulletin %(number)s of %(issuer)s (%(date)s) lists duties of yours still short on %(as_of)s: "
            "%(duties)s. Open Tingke to see your lines."
        ),
    ),
}

LANGUAGES = ("zh_CN", "en")


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
    values = _Words({k: "" if v is None else v for k, v in params.items()})
    return t.gettext(template.subject) % values, t.gettext(template.body) % values


def label(event: str, language: str) -> str:
    template = TEMPLATES.get(Event(event)) if event in Event.__members__.values() else None
    return translations(language_of(language)).gettext(template.label) if template else event
