"""The one call every domain makes (``NotificationService.notify``), the person's choices, the log.

``notify`` renders the event's message in each person's language (their last launch's), keeps only the
channels the institution switched on, the person has an address in and has not turned off for this
event, and writes one ``Notification`` row per person and channel in the caller's transaction: the
outbox. After that transaction commits the rows are queued (``outbox.queue_after_commit``); a row whose
job never got queued is picked up by the worker's reconciler (worker/queues.py). A row with
``not_before`` in the future waits for it (O-12: the class's end).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PlatformUser
from lti_tool.errors import BadRequest
from lti_tool.lti.models import LaunchSession, Platform
from lti_tool.notifications import outbox
from lti_tool.notifications.events import (
    PERSONA_AUDIENCES,
    TEMPLATES,
    Audience,
    Event,
    audience_checks,
    events_for,
    language_of,
    render,
)
from lti_tool.notifications.models import (
    Channel,
    ChannelSetting,
    DeliveryStatus,
    Notification,
    Preference,
)
from lti_tool.tenancy import Institution

log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    return (url or "").strip().rstrip("/")


class Addresses:
    """Where a person is reached in each channel of one institution."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def of(self, person: Person, channel: str, setting: ChannelSetting | None = None) -> str:
        if channel == Channel.EMAIL:
            return person.email or ""
        if channel == Channel.WECOM:
            return person.wecom_userid or ""
        if channel == Channel.DINGTALK:
            return person.dingtalk_userid or ""
        if channel == Channel.MOODLE:
            return self.moodle_user_id(person, setting)
        return ""

    def moodle_user_id(self, person: Person, setting: ChannelSetting | None) -> str:
        """The ``sub`` of the person's launches from the Moodle the channel names (Moodle's user id)."""
        stmt = (
            select(PlatformUser.lti_user_id, Platform.issuer)
            .join(Platform, Platform.id == PlatformUser.platform_id)
            .where(PlatformUser.institution_id == self.institution_id, PlatformUser.person_id == person.id)
            .order_by(PlatformUser.last_launch_at.desc())
        )
        rows = self.session.execute(stmt).all()
        base = normalize_url((setting.options or {}).get("base_url", "")) if setting else ""
        for sub, issuer in rows:
            if not base or normalize_url(issuer) == base:
                return str(sub)
        return ""

    def language(self, person_id: int) -> str:
        locale = self.session.scalars(
            select(LaunchSession.locale)
            .where(LaunchSession.person_id == person_id, LaunchSession.institution_id == self.institution_id)
            .order_by(LaunchSession.created_at.desc())
            .limit(1)
        ).first()
        return language_of(locale)


def channel_settings(session: Session, institution_id: int) -> list[ChannelSetting]:
    """The institution's channels in a fixed order. E-mail (the server's SMTP setting, else the .eml
    outbox) is on until the institution switches it off, as it was before channels were configurable."""
    rows = {
        s.channel: s
        for s in session.scalars(
            select(ChannelSetting).where(ChannelSetting.institution_id == institution_id)
        )
    }
    out = []
    for channel in Channel:
        row = rows.get(channel.value)
        if row is None:
            row = ChannelSetting(
                institution_id=institution_id,
                channel=channel.value,
                enabled=channel == Channel.EMAIL,
                options={},
                secret="",
                access_token="",
            )
        out.append(row)
    return out


def channel_setting(session: Session, institution_id: int, channel: str) -> ChannelSetting | None:
    return next((s for s in channel_settings(session, institution_id) if s.channel == channel), None)


@dataclass
class PreferenceRow:
    event: str
    channels: dict[str, bool]


class NotificationService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.addresses = Addresses(session, institution_id)

    # -- the one call ----------------------------------------------------------------------------------
    def notify(
        self,
        event: Event,
        person_ids: Iterable[int | None],
        params: dict[str, object],
        *,
        link: str = "",
        not_before: dt.datetime | None = None,
        ref: str = "",
        once: bool = False,
        queue: bool = True,
    ) -> list[Notification]:
        """Write the outbox rows of ``event`` for ``person_ids``; queued when the caller's transaction
        commits. ``once`` with a ``ref``: nobody is told twice about the same thing (an overdue problem).
        ``queue=False``: a worker job that delivers the rows itself right after its commit (the reminder
        tick); the reconciler still picks up any it did not finish."""
        ids = sorted({i for i in person_ids if i is not None})
        if not ids:
            return []
        settings = self.active_channels()
        if not settings:
            return []
        persons = self.session.scalars(
            select(Person).where(Person.institution_id == self.institution_id, Person.id.in_(ids))
        ).all()
        off = {
            (p.person_id, p.channel)
            for p in self.session.scalars(
                select(Preference).where(
                    Preference.institution_id == self.institution_id,
                    Preference.event == event,
                    Preference.person_id.in_(ids),
                    Preference.enabled.is_(False),
                )
            )
        }
        told: set[tuple[int, str]] = set()
        if once and ref:
            told = set(
                self.session.execute(
                    select(Notification.person_id, Notification.channel).where(
                        Notification.institution_id == self.institution_id,
                        Notification.event == event,
                        Notification.ref == ref,
                        Notification.person_id.in_(ids),
                    )
                ).all()
            )
        rows = []
        for person in persons:
            language = self.addresses.language(person.id)
            subject, body = render(event, params, language)
            for setting in settings:
                key = (person.id, setting.channel)
                if key in off or key in told or not self.addresses.of(person, setting.channel, setting):
                    continue
                rows.append(
                    Notification(
                        institution_id=self.institution_id,
                        event=event,
                        person_id=person.id,
                        channel=setting.channel,
                        ref=ref[:80],
                        subject=subject[:300],
                        body=body,
                        link=link[:1000],
                        language=language,
                        status=DeliveryStatus.PENDING,
                        not_before=not_before,
                    )
                )
        self.session.add_all(rows)
        self.session.flush()
        if queue:
            outbox.queue_after_commit(self.session, rows)
        return rows

    def active_channels(self) -> list[ChannelSetting]:
        return [s for s in channel_settings(self.session, self.institution_id) if s.enabled]

    # -- the person's choices -------------------------------------------------------------------------
    def audiences(self, person_id: int, personas: Iterable[str]) -> set[Audience]:
        """The audiences the person belongs to: their personas', then each domain's registered check
        (events.py ``register_audience``)."""
        found = {PERSONA_AUDIENCES[p] for p in personas if p in PERSONA_AUDIENCES}
        today = clock.today(self.session.get(Institution, self.institution_id))
        for audience, check in audience_checks().items():
            if audience not in found and check(self.session, self.institution_id, person_id, today):
                found.add(audience)
        return found

    def my_events(self, person_id: int, personas: Iterable[str]) -> list[Event]:
        """The events that can concern the person (events.py ``AUDIENCES``): what their page offers."""
        return events_for(self.audiences(person_id, personas))

    def preferences(self, person_id: int, events: Iterable[Event] | None = None) -> list[PreferenceRow]:
        """The person's choice per event and channel, for ``events`` (default: every event)."""
        off = {
            (p.event, p.channel)
            for p in self.session.scalars(
                select(Preference).where(
                    Preference.institution_id == self.institution_id,
                    Preference.person_id == person_id,
                    Preference.enabled.is_(False),
                )
            )
        }
        channels = [s.channel for s in self.active_channels()] or [c.value for c in Channel]
        return [
            PreferenceRow(event.value, {c: (event.value, c) not in off for c in channels})
            for event in (TEMPLATES if events is None else events)
        ]

    def set_preferences(
        self,
        person_id: int,
        chosen: set[tuple[str, str]],
        channels: list[str] | None = None,
        events: Iterable[Event] | None = None,
    ) -> None:
        """``chosen``: the (event, channel) pairs the person wants; every other pair of ``channels`` and
        ``events`` (the ones the page showed; default: all) is turned off, the others are left as they
        were. A pair outside what the page showed is refused."""
        among = set(channels) if channels is not None else {c.value for c in Channel}
        shown = {e.value for e in (Event if events is None else events)}
        for event, channel in chosen:
            if event not in shown or channel not in Channel.__members__.values():
                raise BadRequest("Unknown notification choice.")
        existing = {
            (p.event, p.channel): p
            for p in self.session.scalars(
                select(Preference).where(
                    Preference.institution_id == self.institution_id, Preference.person_id == person_id
                )
            )
        }
        for event in Event:
            if event.value not in shown:
                continue
            for channel in Channel:
                if channel.value not in among:
                    continue
                key = (event.value, channel.value)
                row = existing.get(key)
                if row is None:
                    row = Preference(
                        institution_id=self.institution_id,
                        person_id=person_id,
                        event=event.value,
                        channel=channel.value,
                    )
                    self.session.add(row)
                row.enabled = key in chosen
        self.session.flush()

    # -- the log ----------------------------------------------------------------------------------------
    def mine(self, person_id: int, limit: int = 100) -> list[Notification]:
        return list(
            self.session.scalars(
                select(Notification)
                .where(
                    Notification.institution_id == self.institution_id, Notification.person_id == person_id
                )
                .order_by(Notification.id.desc())
                .limit(limit)
            )
        )

    def failures(self, limit: int = 100) -> list[tuple[Notification, str]]:
        """Failed or undeliverable rows of the institution, newest first, with the person's name."""
        return [
            (n, name)
            for n, name in self.session.execute(
                select(Notification, Person.name)
                .join(Person, Person.id == Notification.person_id)
                .where(
                    Notification.institution_id == self.institution_id,
                    Notification.status.in_([DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERABLE]),
                )
                .order_by(Notification.id.desc())
                .limit(limit)
            ).all()
        ]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        return dict(
            self.session.execute(
                select(Notification.status, func.count())
                .where(Notification.institution_id == self.institution_id)
                .group_by(Notification.status)
            ).all()
        )

    def now(self) -> dt.datetime:
        return utcnow()
