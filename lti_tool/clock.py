"""The college's clock: the one place that reads the time (docs/decisions.md T-1).

"Today", "now", a week and a month are always the college's, in its time zone, never the server's: a
server on UTC is still on yesterday's date until 08:00 in Beijing, so ``date.today()`` there refuses a
patrol dated today and grants no position whose tenure starts today. Everything asks this module:

- ``utcnow()`` — the instant (aware, UTC), for timestamps stored in ``UTCDateTime`` columns and for
  expiries, which compare instants and need no zone;
- ``now(zone)`` / ``today(zone)`` — the college's wall-clock time and date;
- ``zone(of)`` — the ``ZoneInfo`` for an institution (any object with a ``timezone`` attribute, such as
  the ``Institution`` row), a zone name, or ``None`` for the configured default.

The default zone is ``Settings.timezone`` (``TINGKE_TIMEZONE``, Asia/Shanghai), set by the app, the
worker and the CLI when they start (``set_default_zone``); an institution's own ``timezone`` wins.
Ruff's DTZ rules keep naive ``datetime.now()`` and ``date.today()`` out of the rest of the code.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"

_default_zone_name = DEFAULT_ZONE


class HasTimezone(Protocol):
    """An institution, or anything else that knows its zone name."""

    @property
    def timezone(self) -> str | None: ...


Zone = ZoneInfo | str | HasTimezone | None


def set_default_zone(name: str) -> None:
    """The zone of institutions that name none (from ``Settings.timezone``); validated here."""
    global _default_zone_name
    _zone_named(name)
    _default_zone_name = name


@lru_cache(maxsize=64)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(of: Zone = None) -> ZoneInfo:
    """The time zone of ``of``: a ``ZoneInfo`` as is, a zone name, an institution, or the default."""
    if isinstance(of, ZoneInfo):
        return of
    name = of if isinstance(of, str) else (of.timezone if of is not None else None)
    return _zone_named(name or _default_zone_name)


def utcnow() -> dt.datetime:
    """The current instant, aware, in UTC: the only call in Tingke that reads the system clock."""
    return dt.datetime.now(dt.UTC)


def now(of: Zone = None) -> dt.datetime:
    """The college's wall-clock time now (aware, in its zone)."""
    return utcnow().astimezone(zone(of))


def today(of: Zone = None) -> dt.date:
    """The college's date today."""
    return now(of).date()


def local(at: dt.datetime, of: Zone = None) -> dt.datetime:
    """An aware instant as the college's wall-clock time."""
    return at.astimezone(zone(of))
