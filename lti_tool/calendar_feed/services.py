"""A person's calendar feed (issue 15 item 5): the secret address, and the calendar it serves.

The address. ``/calendar/<secret>.ics`` with a secret derived like the download tickets and link tokens
(lti/sessions.py): an HMAC-SHA256, under the app's secret key, of a random salt kept in the person's
``CalendarFeed`` row. The row keeps the salt and the SHA-256 of the secret, never the secret: the page can
show the address again (it recomputes it), a copy of the database alone subscribes nobody, and the feed
finds its row by the digest of what was sent (``find``), so nothing compares a secret byte by byte and an
unknown address costs the same as a known one. Resetting draws a new salt: the old address then finds no
row (404). The address names no institution; the row does, and every query below is scoped by it.

The calendar. Calendar clients (Moodle's calendar subscriptions, a phone's subscribed calendars) fetch it
without any session, every hour or so; it is built from the person's own rows only, in their language
(their last launch's, as the notifications), with the college's time zone as a VTIMEZONE and TZID
(lti_tool/clock.py). Its events, each with a UID that stays the same from one fetch to the next so
clients update rather than duplicate:

- the reception weeks the school office rostered the person for (C-6a, ``outreach.counting``), all day
  from Monday to Sunday, with the place;
- the person's observation drafts whose class session is still to come (they planned to observe it),
  timed by the session's clock times (all day where the timetable has none);
- the year-end contact summary's due date (C-7b, ``contacts.summaries.summary_deadline``) while the
  person holds a position with that duty and has not submitted it;
- letters and proposals waiting on the person (the leader's 批示) or on their unit (its answer), on their
  deadline (C-6b, C-6c; ``outreach.models.HANDLING_STATUSES``);
- the open problems routed to the unit the person handles (``ProblemService.handlers_of``), on the day
  they become overdue (P-6).

The body is a function of those rows (DTSTAMP is each item's own last change, not the fetch time), so an
unchanged calendar has an unchanged ETag and clients polling it get 304s.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone
from icalendar import Event as VEvent
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from lti_tool import acting, clock
from lti_tool.academic_year import academic_year_of
from lti_tool.calendar_feed.models import CalendarFeed
from lti_tool.contacts.summaries import ContactSummary, SummaryStatus, summary_deadline
from lti_tool.db import utcnow
from lti_tool.directory.models import Person
from lti_tool.directory.personas import active_positions
from lti_tool.i18n import N_
from lti_tool.notifications.events import translations
from lti_tool.notifications.services import Addresses
from lti_tool.observations.models import Observation, ObservationStatus
from lti_tool.outreach.counting import scheduled_weeks
from lti_tool.outreach.models import FollowUp, FollowUpKind, FollowUpStatus, ReceptionDuty
from lti_tool.policy.schema import Policy
from lti_tool.problems.models import OPEN_STATUSES, Problem
from lti_tool.problems.services import ProblemService, released
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession

log = logging.getLogger(__name__)

FEED_PREFIX = "/calendar/"
FEED_SUFFIX = ".ics"
_SALT = b"tingke-calendar-feed:"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
TOKEN_LENGTH = 43
"""An HMAC-SHA256 in unpadded URL-safe base64."""
PAST_DAYS = 60
"""How far back the calendar reaches (a recent reception week stays visible)."""
AHEAD_DAYS = 400
"""How far ahead: the rest of the academic year and the next summary deadline."""
FETCH_NOTE_EVERY = dt.timedelta(minutes=10)
"""A fetch is written on the row at most this often (the page says when a calendar last fetched)."""

SUMMARY_RULE_KIND = "summary_submitted"

WORDS = {
    "calendar": N_("Tingke: my observation and contact work"),
    "reception": N_("Reception day duty (week %(week)s)"),
    "reception_place": N_("Place: %(place)s"),
    "reception_recorded": N_("The week's reception record is submitted."),
    "reception_open": N_("Record the week's visitors in Tingke (or that nobody came)."),
    "draft": N_("Observe: %(course)s"),
    "draft_details": N_("Teachers: %(teachers)s. Classes: %(classes)s. Periods %(periods)s."),
    "draft_note": N_("Your observation record of this class is a draft in Tingke."),
    "summary": N_("Year-end contact summary due (%(year)s)"),
    "summary_note": N_("Submit your summary of the year's contact work in Tingke."),
    "letter": N_("Letter to answer: %(title)s"),
    "proposal": N_("Proposal to answer: %(title)s"),
    "follow_up_leader": N_("Your instruction (批示) is due on this day."),
    "follow_up_unit": N_("Your unit's answer is due on this day."),
    "problem": N_("Problem to handle: %(category)s, %(room)s"),
    "problem_note": N_("Still open after this day, the problem is overdue: %(description)s"),
}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_path(token: str) -> str:
    return f"{FEED_PREFIX}{token}{FEED_SUFFIX}"


@dataclass(frozen=True)
class FeedAddress:
    """What the person's page shows."""

    url: str
    webcal_url: str
    created_at: dt.datetime
    reset_at: dt.datetime | None
    fetched_at: dt.datetime | None


@dataclass(frozen=True)
class FeedEvent:
    """One event of the calendar: all day when ``start`` is a date (``end`` exclusive, as in RFC 5545),
    else aware datetimes in the college's zone."""

    uid: str
    summary: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    stamp: dt.datetime
    description: str = ""
    location: str = ""
    categories: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Feed:
    body: bytes
    etag: str
    events: list[FeedEvent]


def _valid_shape(token: str) -> bool:
    return len(token) == TOKEN_LENGTH and all(c in _TOKEN_CHARS for c in token)


def find(session: Session, token: str) -> CalendarFeed | None:
    """The feed row a secret names, or ``None``: the lookup is by the secret's SHA-256 (an attacker's
    guesses cannot learn a prefix from timing), and a malformed secret finds nothing either."""
    if not _valid_shape(token):
        token_digest(token[:200])  # the same work as a well-formed one
        return None
    return session.scalars(select(CalendarFeed).where(CalendarFeed.token_hash == token_digest(token))).first()


class CalendarAddressService:
    """Issues, shows and resets one person's calendar address (the person's page)."""

    def __init__(self, session: Session, institution_id: int, secret: str, base_url: str) -> None:
        self.session = session
        self.institution_id = institution_id
        self._key = hashlib.sha256(("calendar:" + secret).encode()).digest()
        self.base_url = base_url.rstrip("/")

    def token_of(self, salt: str) -> str:
        mac = hmac.new(self._key, _SALT + salt.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _row(self, person_id: int) -> CalendarFeed | None:
        return self.session.scalars(
            select(CalendarFeed).where(
                CalendarFeed.institution_id == self.institution_id, CalendarFeed.person_id == person_id
            )
        ).first()

    def _new_salt(self, row: CalendarFeed) -> str:
        row.salt = secrets.token_hex(16)
        token = self.token_of(row.salt)
        row.token_hash = token_digest(token)
        return token

    def address(self, person_id: int) -> FeedAddress:
        """The person's address, made on first asking. If the app's secret key changed since, the row's
        digest no longer matches: a new salt is drawn (the old address stopped working with the key)."""
        row = self._row(person_id)
        if row is None:
            row = CalendarFeed(institution_id=self.institution_id, person_id=person_id, created_at=utcnow())
            token = self._new_salt(row)
            self.session.add(row)
            self.session.flush()
            log.info("calendar address made for person %s in institution %s", person_id, self.institution_id)
        else:
            token = self.token_of(row.salt)
            if not hmac.compare_digest(token_digest(token), row.token_hash):
                token = self._new_salt(row)
                self.session.flush()
        return self._describe(row, token)

    def reset(self, person_id: int) -> FeedAddress:
        """A new address; the old one answers 404 from now on."""
        row = self._row(person_id)
        if row is None:
            return self.address(person_id)
        token = self._new_salt(row)
        row.reset_at = utcnow()
        row.fetched_at = None
        self.session.flush()
        log.info(
            "calendar address reset for person %s in institution %s by %s",
            person_id,
            self.institution_id,
            acting.who(),
        )
        return self._describe(row, token)

    def _describe(self, row: CalendarFeed, token: str) -> FeedAddress:
        url = self.base_url + feed_path(token)
        webcal = "webcal://" + url.split("://", 1)[1] if "://" in url else url
        return FeedAddress(url, webcal, row.created_at, row.reset_at, row.fetched_at)


class CalendarFeedService:
    """Builds one person's calendar from their own rows (the feed endpoint, outside any session)."""

    def __init__(self, session: Session, feed: CalendarFeed, policy: Policy, host: str = "tingke") -> None:
        self.session = session
        self.feed = feed
        self.institution_id = feed.institution_id
        self.person_id = feed.person_id
        self.policy = policy
        self.host = host or "tingke"
        institution = session.get(Institution, self.institution_id)
        self.tz: ZoneInfo = clock.zone(institution)
        self.now = clock.now(self.tz)
        self.today = self.now.date()
        self.language = Addresses(session, self.institution_id).language(self.person_id)
        self._t = translations(self.language)

    def _word(self, key: str, **params: object) -> str:
        text = self._t.gettext(WORDS[key])
        return text % params if params else text

    def _uid(self, kind: str, ident: object) -> str:
        return f"{kind}-{ident}-{self.institution_id}@{self.host}"

    def note_fetch(self) -> None:
        at = utcnow()
        if self.feed.fetched_at is None or at - self.feed.fetched_at > FETCH_NOTE_EVERY:
            self.feed.fetched_at = at
            self.session.flush()

    # -- the events -----------------------------------------------------------------------------------------
    def events(self) -> list[FeedEvent]:
        start = self.today - dt.timedelta(days=PAST_DAYS)
        end = self.today + dt.timedelta(days=AHEAD_DAYS)
        events = [
            *self.reception_weeks(start, end),
            *self.planned_observations(end),
            *self.summary_deadlines(end),
            *self.follow_ups(start, end),
            *self.open_problems(start, end),
        ]
        return sorted(events, key=lambda e: (_sort_key(e.start, self.tz), e.uid))

    def reception_weeks(self, start: dt.date, end: dt.date) -> list[FeedEvent]:
        weeks = scheduled_weeks(self.session, self.institution_id, start, end, person_ids=[self.person_id])
        duties = {
            d.id: d
            for d in self.session.scalars(
                select(ReceptionDuty).where(
                    ReceptionDuty.institution_id == self.institution_id,
                    ReceptionDuty.id.in_([w.duty_id for w in weeks]),
                )
            )
        }
        out = []
        for week in weeks:
            duty = duties[week.duty_id]
            lines = [self._word("reception_recorded" if week.recorded else "reception_open")]
            if duty.place:
                lines.insert(0, self._word("reception_place", place=duty.place))
            out.append(
                FeedEvent(
                    uid=self._uid("reception", duty.id),
                    summary=self._word("reception", week=week.week),
                    start=week.start,
                    end=week.end + dt.timedelta(days=1),
                    stamp=duty.updated_at,
                    description="\n".join(lines),
                    location=duty.place,
                    categories=("reception",),
                )
            )
        return out

    def planned_observations(self, end: dt.date) -> list[FeedEvent]:
        rows = self.session.scalars(
            select(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .where(
                Observation.institution_id == self.institution_id,
                Observation.author_id == self.person_id,
                Observation.status == ObservationStatus.DRAFT,
                ClassSession.date >= self.today,
                ClassSession.date <= end,
            )
        )
        out = []
        for obs in rows:
            cs = obs.session
            if cs.has_ended(self.now, self.tz):
                continue
            section = cs.section
            teachers = "、".join(t.name for t in section.teachers) or "—"
            periods = f"{cs.period_start}-{cs.period_end}"
            first: dt.date | dt.datetime
            last: dt.date | dt.datetime
            if cs.starts_at is not None and cs.ends_at is not None:
                first = dt.datetime.combine(cs.date, cs.starts_at, tzinfo=self.tz)
                last = dt.datetime.combine(cs.date, cs.ends_at, tzinfo=self.tz)
            else:
                first, last = cs.date, cs.date + dt.timedelta(days=1)
            out.append(
                FeedEvent(
                    uid=self._uid("observation", obs.id),
                    summary=self._word("draft", course=section.course.name),
                    start=first,
                    end=last,
                    stamp=obs.updated_at,
                    description="\n".join(
                        [
                            self._word(
                                "draft_details",
                                teachers=teachers,
                                classes=section.classes or "—",
                                periods=periods,
                            ),
                            self._word("draft_note"),
                        ]
                    ),
                    location=cs.room,
                    categories=("observation",),
                )
            )
        return out

    def summary_deadlines(self, end: dt.date) -> list[FeedEvent]:
        """C-7b's due date while the person holds, today, a position of a summary rule and has not
        submitted the summary of the academic year."""
        duty = {p for r in self.policy.rules if r.kind == SUMMARY_RULE_KIND for p in r.positions}
        if not duty & active_positions(self.session, self.person_id, self.today):
            return []
        contact = self.policy.contact
        year = academic_year_of(self.today, contact.academic_year_start)
        due = summary_deadline(contact, year)
        if due > end:
            return []
        summary = self.session.scalars(
            select(ContactSummary).where(
                ContactSummary.institution_id == self.institution_id,
                ContactSummary.person_id == self.person_id,
                ContactSummary.academic_year == year,
            )
        ).first()
        if summary is not None and summary.status == SummaryStatus.SUBMITTED:
            return []
        return [
            FeedEvent(
                uid=self._uid("summary", f"{self.person_id}-{year}"),
                summary=self._word("summary", year=year),
                start=due,
                end=due + dt.timedelta(days=1),
                stamp=summary.updated_at if summary is not None else self.feed.created_at,
                description=self._word("summary_note"),
                categories=("deadline",),
            )
        ]

    def follow_ups(self, start: dt.date, end: dt.date) -> list[FeedEvent]:
        """Letters and proposals whose next step is the person's (the leader's 批示) or their unit's (the
        answer), on their deadline (the rule of outreach/followup.py ``FollowUpService.roles``)."""
        unit_id = self.session.scalar(
            select(Person.unit_id).where(
                Person.id == self.person_id, Person.institution_id == self.institution_id
            )
        )
        mine = and_(FollowUp.status == FollowUpStatus.WITH_LEADER, FollowUp.leader_id == self.person_id)
        ours = (
            and_(FollowUp.status == FollowUpStatus.WITH_UNIT, FollowUp.unit_id == unit_id)
            if unit_id is not None
            else None
        )
        rows = self.session.scalars(
            select(FollowUp).where(
                FollowUp.institution_id == self.institution_id,
                FollowUp.deadline.is_not(None),
                FollowUp.deadline >= start,
                FollowUp.deadline <= end,
                or_(mine, ours) if ours is not None else mine,
            )
        )
        out = []
        for fu in rows:
            assert fu.deadline is not None
            key = "letter" if fu.kind == FollowUpKind.LETTER else "proposal"
            whose = "follow_up_leader" if fu.status == FollowUpStatus.WITH_LEADER else "follow_up_unit"
            out.append(
                FeedEvent(
                    uid=self._uid("follow-up", fu.id),
                    summary=self._word(key, title=fu.title),
                    start=fu.deadline,
                    end=fu.deadline + dt.timedelta(days=1),
                    stamp=fu.updated_at,
                    description=self._word(whose),
                    categories=("deadline",),
                )
            )
        return out

    def open_problems(self, start: dt.date, end: dt.date) -> list[FeedEvent]:
        """The open problems routed to the person's unit, when the person is among those told of them."""
        problems = ProblemService(self.session, self.institution_id, self.policy)
        unit_id = self.session.scalar(
            select(Person.unit_id).where(
                Person.id == self.person_id, Person.institution_id == self.institution_id
            )
        )
        if unit_id is None or self.person_id not in problems.handlers_of(unit_id):
            return []
        rows = self.session.scalars(
            select(Problem).where(
                Problem.institution_id == self.institution_id,
                Problem.unit_id == unit_id,
                Problem.status.in_(OPEN_STATUSES),
                *released(),
            )
        )
        categories = {c.code: c.display(self.language) for c in self.policy.problem_categories}
        days = dt.timedelta(days=self.policy.problem_overdue_days)
        out = []
        for problem in rows:
            due = clock.local(problem.created_at + days, self.tz).date()
            if not start <= due <= end:
                continue
            out.append(
                FeedEvent(
                    uid=self._uid("problem", problem.id),
                    summary=self._word(
                        "problem",
                        category=categories.get(problem.category, problem.category),
                        room=problem.room or "—",
                    ),
                    start=due,
                    end=due + dt.timedelta(days=1),
                    stamp=problem.created_at,
                    description=self._word("problem_note", description=problem.description[:300]),
                    location=problem.room,
                    categories=("deadline",),
                )
            )
        return out

    # -- the calendar ---------------------------------------------------------------------------------------
    def build(self) -> Feed:
        events = self.events()
        cal = Calendar()
        cal.add("prodid", "-//Tingke//Tingke calendar feed//ZH")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        cal.add("x-wr-calname", self._word("calendar"))
        cal.add("x-wr-timezone", self.tz.key)
        # Clients that honour them poll hourly: enough for a roster change, gentle on the server.
        cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
        cal.add_component(
            Timezone.from_tzid(
                self.tz.key,
                first_date=dt.date(self.today.year - 1, 1, 1),
                last_date=dt.date(self.today.year + 2, 1, 1),
            )
        )
        for event in events:
            ve = VEvent()
            ve.add("uid", event.uid)
            ve.add("dtstamp", event.stamp.astimezone(dt.UTC))
            ve.add("dtstart", event.start)
            ve.add("dtend", event.end)
            ve.add("summary", event.summary)
            if event.description:
                ve.add("description", event.description)
            if event.location:
                ve.add("location", event.location)
            if event.categories:
                ve.add("categories", list(event.categories))
            ve.add("transp", "TRANSPARENT" if not isinstance(event.start, dt.datetime) else "OPAQUE")
            cal.add_component(ve)
        body = cal.to_ical()
        return Feed(body, hashlib.sha256(body).hexdigest()[:32], events)


def _sort_key(value: dt.date | dt.datetime, tz: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(0), tzinfo=tz)
