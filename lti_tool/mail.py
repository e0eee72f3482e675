"""Outgoing e-mail: SMTP when configured, else ``.eml`` files in the instance's outbox folder.

The embedded default writes files so a newcomer (and the tests) can read every message without a mail
server; production sets ``TINGKE_SMTP_URL`` (smtp://user:pass@host:port or smtps://…).
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lti_tool.config import Settings

SENDER = "Tingke <no-reply@tingke.local>"


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> str:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = SENDER, to, subject
        message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid("tingke")
        message.set_content(body)
        if self.settings.smtp_url:
            self._smtp(message)
            return message["Message-ID"]
        outbox = Path(self.settings.outbox_path or self.settings.instance_path / "outbox")
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(message))
        return str(path)

    def _smtp(self, message: EmailMessage) -> None:
        url = urlsplit(self.settings.smtp_url)
        cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with cls(
            url.hostname or "localhost", url.port or (465 if url.scheme == "smtps" else 25), timeout=10
        ) as smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(message)
