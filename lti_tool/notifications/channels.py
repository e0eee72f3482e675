"""The channels: Moodle's own notifications, 企业微信 application messages, 钉钉 work notifications, e-mail.

Plain HTTP (requests) against each service's documented endpoints, with the base URL configurable so the
tests run them against local fakes (tests/support/fake_channels.py); why not an SDK: docs/decisions.md
N-3. Each sender returns nothing on success and raises ``DeliveryError`` with the service's own message
on failure; the access tokens of 企业微信 and 钉钉 are cached in the channel's row until they expire and
fetched again once when the service says the token expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy.orm import Session

from lti_tool.config import Settings
from lti_tool.db import utcnow
from lti_tool.mail import Mailer
from lti_tool.notifications.models import Channel, ChannelSetting

TIMEOUT = (5, 15)
"""Connect and read timeouts of every call, in seconds."""
TOKEN_EXPIRED = {40014, 42001}
"""企业微信 and 钉钉: invalid / expired access_token → fetch a new one and try once more."""
WECOM_BASE = "https://qyapi.weixin.qq.com"
DINGTALK_BASE = "https://oapi.dingtalk.com"
MOODLE_TEXTFORMAT_PLAIN = 2
"""Moodle's FORMAT_PLAIN (lib/weblib.php)."""


class DeliveryError(Exception):
    """One attempt failed; the message is what the service said (kept on the notification row)."""


@dataclass
class Message:
    address: str
    subject: str
    body: str
    link: str = ""


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise DeliveryError(f"HTTP {response.status_code}: not JSON") from exc


class MoodleSender:
    """``core_message_send_instant_messages`` with the administrator's web-service token, to the Moodle
    user whose id is the ``sub`` of the person's launches."""

    def __init__(self, setting: ChannelSetting) -> None:
        self.base = (setting.options or {}).get("base_url", "").rstrip("/")
        self.token = setting.secret

    def send(self, message: Message) -> None:
        if not self.base or not self.token:
            raise DeliveryError("Moodle: the site address or the web-service token is not set")
        text = f"{message.subject}\n\n{message.body}" + (f"\n\n{message.link}" if message.link else "")
        response = requests.post(
            f"{self.base}/webservice/rest/server.php",
            data={
                "wstoken": self.token,
                "wsfunction": "core_message_send_instant_messages",
                "moodlewsrestformat": "json",
                "messages[0][touserid]": message.address,
                "messages[0][text]": text,
                "messages[0][textformat]": MOODLE_TEXTFORMAT_PLAIN,
            },
            timeout=TIMEOUT,
        )
        data = _json(response)
        if isinstance(data, dict) and ("exception" in data or "errorcode" in data):
            raise DeliveryError(f"Moodle {data.get('errorcode', '')}: {data.get('message', '')}".strip())
        if not isinstance(data, list) or not data:
            raise DeliveryError(f"Moodle: unexpected answer (HTTP {response.status_code})")
        first = data[0]
        if int(first.get("msgid", -1)) == -1:
            raise DeliveryError(f"Moodle: {first.get('errormessage', 'message refused')}")


class _TokenSender:
    """What 企业微信 and 钉钉 share: an access token from ``gettoken``, cached in the channel row."""

    default_base = ""

    def __init__(self, setting: ChannelSetting, session: Session) -> None:
        self.setting = setting
        self.session = session
        self.base = ((setting.options or {}).get("base_url") or self.default_base).rstrip("/")

    def token_params(self) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def token(self, *, fresh: bool = False) -> str:
        s = self.setting
        now = utcnow()
        if not fresh and s.access_token and s.token_expires_at and s.token_expires_at > now:
            return s.access_token
        path, params = self.token_params()
        data = _json(requests.get(f"{self.base}{path}", params=params, timeout=TIMEOUT))
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            raise DeliveryError(f"gettoken {data.get('errcode')}: {data.get('errmsg', '')}")
        s.access_token = data["access_token"]
        # a minute's margin so a token is never used in its last seconds
        s.token_expires_at = now + dt.timedelta(seconds=max(0, int(data.get("expires_in", 7200)) - 60))
        self.session.flush()
        return s.access_token

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        for fresh in (False, True):
            data = _json(
                requests.post(
                    f"{self.base}{path}",
                    params={"access_token": self.token(fresh=fresh)},
                    json=payload,
                    timeout=TIMEOUT,
                )
            )
            if data.get("errcode") in TOKEN_EXPIRED and not fresh:
                continue
            if data.get("errcode", 0) != 0:
                raise DeliveryError(f"{data.get('errcode')}: {data.get('errmsg', '')}")
            return data
        raise DeliveryError("access token refused twice")  # pragma: no cover - the loop returns or raises


class WeComSender(_TokenSender):
    """企业微信 application message: ``gettoken`` (corpid, corpsecret), then ``message/send``."""

    default_base = WECOM_BASE

    def token_params(self) -> tuple[str, dict[str, str]]:
        options = self.setting.options or {}
        return "/cgi-bin/gettoken", {"corpid": options.get("corpid", ""), "corpsecret": self.setting.secret}

    def send(self, message: Message) -> None:
        agentid = int((self.setting.options or {}).get("agentid") or 0)
        payload: dict[str, Any] = {"touser": message.address, "agentid": agentid}
        if message.link:
            payload |= {
                "msgtype": "textcard",
                "textcard": {
                    "title": message.subject[:128],
                    "description": message.body[:512],
                    "url": message.link,
                    "btntxt": "详情",
                },
            }
        else:
            payload |= {"msgtype": "text", "text": {"content": f"{message.subject}\n{message.body}"[:2048]}}
        data = self.post("/cgi-bin/message/send", payload)
        if data.get("invaliduser"):
            raise DeliveryError(f"企业微信: unknown user {data['invaliduser']}")


class DingTalkSender(_TokenSender):
    """钉钉 work notification: ``gettoken`` (appkey, appsecret), then
    ``topapi/message/corpconversation/asyncsend_v2``."""

    default_base = DINGTALK_BASE

    def token_params(self) -> tuple[str, dict[str, str]]:
        options = self.setting.options or {}
        return "/gettoken", {"appkey": options.get("appkey", ""), "appsecret": self.setting.secret}

    def send(self, message: Message) -> None:
        agent_id = int((self.setting.options or {}).get("agent_id") or 0)
        content = f"{message.subject}\n{message.body}" + (f"\n{message.link}" if message.link else "")
        self.post(
            "/topapi/message/corpconversation/asyncsend_v2",
            {
                "agent_id": agent_id,
                "userid_list": message.address,
                "msg": {"msgtype": "text", "text": {"content": content[:5000]}},
            },
        )


class EmailSender:
    """The existing mail setting (SMTP, else ``.eml`` files in the outbox folder)."""

    def __init__(self, settings: Settings) -> None:
        self.mailer = Mailer(settings)

    def send(self, message: Message) -> None:
        body = message.body + (f"\n\n{message.link}" if message.link else "")
        try:
            self.mailer.send(message.address, message.subject, body)
        except OSError as exc:
            raise DeliveryError(f"e-mail: {exc}") from exc


def sender_for(setting: ChannelSetting, session: Session, settings: Settings) -> Any:
    if setting.channel == Channel.MOODLE:
        return MoodleSender(setting)
    if setting.channel == Channel.WECOM:
        return WeComSender(setting, session)
    if setting.channel == Channel.DINGTALK:
        return DingTalkSender(setting, session)
    if setting.channel == Channel.EMAIL:
        return EmailSender(settings)
    raise DeliveryError(f"unknown channel {setting.channel}")
