"""The navigation bar: each persona's pages, contributed by the domains (the shell's registry, like panels).

Every page a persona can use must be reachable without typing a URL (issue 11 §4). A domain's ``views.py``
registers its entries at import time::

    register_nav("quality_center", 30, "observations.qc_list", N_("Records"))

``base.html`` shows the entries of the actor's current persona, in ``order``, marking the one whose
blueprint or endpoint the request is on. ``when`` hides an entry from people it does not concern (a
patrol page for someone without patrol duty). Labels are msgids, translated when shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lti_tool.actor import Actor


@dataclass(frozen=True)
class NavEntry:
    order: int
    endpoint: str
    label: str
    """A catalog msgid."""
    when: Callable[[Actor], bool] | None = None
    active_prefix: str = ""
    """Endpoints starting with this mark the entry as the current one (default: the endpoint itself)."""


_ENTRIES: dict[str, list[NavEntry]] = {}


def register_nav(
    persona: str,
    order: int,
    endpoint: str,
    label: str,
    *,
    when: Callable[[Actor], bool] | None = None,
    active_prefix: str = "",
) -> None:
    entries = _ENTRIES.setdefault(persona, [])
    entries[:] = [e for e in entries if e.endpoint != endpoint]  # re-registration (tests) replaces
    entries.append(NavEntry(order, endpoint, label, when, active_prefix))
    entries.sort(key=lambda e: (e.order, e.endpoint))


def nav_for(actor: Actor | None) -> list[NavEntry]:
    """The entries for the actor's persona that concern them."""
    if actor is None:
        return []
    # "" holds the entries of people without a persona (a student: letters to the school leaders)
    return [e for e in _ENTRIES.get(actor.persona, []) if e.when is None or e.when(actor)]


def registered_endpoints() -> set[str]:
    """Every endpoint some persona's bar links to (a test checks each is a page of the app)."""
    return {e.endpoint for entries in _ENTRIES.values() for e in entries}


def is_current(entry: NavEntry, endpoint: str | None) -> bool:
    if not endpoint:
        return False
    return endpoint == entry.endpoint or bool(
        entry.active_prefix and endpoint.startswith(entry.active_prefix)
    )


__all__ = ["NavEntry", "is_current", "nav_for", "register_nav", "registered_endpoints"]
