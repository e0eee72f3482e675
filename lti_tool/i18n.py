"""Catalogs: msgids are English, ``zh_CN`` is the primary translation and the default locale.

The compiled ``.mo`` files are build output; ``ensure_compiled`` builds them from the ``.po`` catalogs
when missing or stale, so a fresh clone needs no extra step.
"""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).with_name("translations")


def ensure_compiled() -> None:
    for po in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(f".mo.{os.getpid()}.tmp")  # gunicorn workers may compile at the same time
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a msgid for extraction where it is translated later (services, which must not use Flask)."""
    return message
