"""Each institution's channels: what the quality center or the school office (or ``tingke notifications``)
sets. Secrets stay on the server: they are stored, never shown back (only their last four characters),
and an empty secret field keeps the stored one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.errors import ValidationFailed
from lti_tool.i18n import N_
from lti_tool.notifications.models import Channel, ChannelSetting

log = logging.getLogger(__name__)

CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    Channel.MOODLE: ("base_url",),
    Channel.WECOM: ("corpid", "agentid", "base_url"),
    Channel.DINGTALK: ("appkey", "agent_id", "base_url"),
    Channel.EMAIL: (),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    Channel.MOODLE: ("base_url",),
    Channel.WECOM: ("corpid", "agentid"),
    Channel.DINGTALK: ("appkey", "agent_id"),
    Channel.EMAIL: (),
}
NEEDS_SECRET = {Channel.MOODLE, Channel.WECOM, Channel.DINGTALK}
VENDOR_NAMES = {"corpid": "CorpID", "agentid": "AgentId", "appkey": "AppKey", "agent_id": "AgentId"}
"""The names the 企业微信 and 钉钉 consoles give these values (shown as they are, in both languages)."""
FIELD_LABELS = {"base_url": N_("Address"), **VENDOR_NAMES}
SECRET_LABELS = {
    Channel.MOODLE: N_("Web-service token"),
    Channel.WECOM: N_("Application Secret (corpsecret)"),
    Channel.DINGTALK: N_("AppSecret"),
}


def mask(secret: str) -> str:
    return "" if not secret else "••••" + secret[-4:] if len(secret) > 8 else "••••"


@dataclass
class ChannelView:
    channel: str
    enabled: bool
    options: dict[str, str]
    secret_hint: str
    fields: tuple[str, ...]
    needs_secret: bool


class ChannelSettingsService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def _row(self, channel: str) -> ChannelSetting | None:
        return self.session.scalars(
            select(ChannelSetting).where(
                ChannelSetting.institution_id == self.institution_id, ChannelSetting.channel == channel
            )
        ).first()

    def save(
        self, channel: str, *, enabled: bool, options: dict[str, str], secret: str = ""
    ) -> ChannelSetting:
        if channel not in Channel.__members__.values():
            raise ValidationFailed("Unknown channel %(channel)s.", channel=channel)
        clean = {k: (options.get(k) or "").strip() for k in CHANNEL_FIELDS[channel]}
        details: list = []
        url = clean.get("base_url", "")
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            details.append(N_("Address: write the whole address, starting with https://"))
        for key in ("agentid", "agent_id"):
            if clean.get(key) and not clean[key].isdigit():
                details.append((N_("%(field)s: a number is needed"), {"field": VENDOR_NAMES[key]}))
        row = self._row(channel)
        secret = (secret or "").strip()
        if enabled:
            for k in REQUIRED[channel]:
                if not clean.get(k):
                    details.append(
                        N_("Address: required to switch the channel on")
                        if k == "base_url"
                        else (N_("%(field)s: required to switch the channel on"), {"field": VENDOR_NAMES[k]})
                    )
            if channel in NEEDS_SECRET and not secret and not (row and row.secret):
                details.append(N_("The secret (token) is required to switch the channel on"))
        if details:
            raise ValidationFailed("The channel settings were not saved.", details=details)
        if row is None:
            row = ChannelSetting(
                institution_id=self.institution_id, channel=channel, options={}, secret="", access_token=""
            )
            self.session.add(row)
        if clean != (row.options or {}) or secret:
            row.access_token, row.token_expires_at = "", None  # a new app or secret: a new token
        row.enabled, row.options = enabled, clean
        if secret:
            row.secret = secret
        self.session.flush()
        log.info(
            "notification channel %s of institution %s %s", channel, self.institution_id,
            "switched on" if enabled else "saved switched off",
        )  # fmt: skip
        return row

    def describe(self) -> list[ChannelView]:
        out = []
        for channel in Channel:
            row = self._row(channel.value)
            enabled = row.enabled if row is not None else channel == Channel.EMAIL
            out.append(
                ChannelView(
                    channel.value,
                    enabled,
                    dict(row.options or {}) if row is not None else {},
                    mask(row.secret) if row is not None else "",
                    CHANNEL_FIELDS[channel],
                    channel in NEEDS_SECRET,
                )
            )
        return out
