"""Home-page panels contributed by each domain: the shell's registry (domains register, home/ renders).

A persona's home page is a stack of panels. Each domain's ``views.py`` registers, at import time, a
function that returns the panel's template and context for the current actor (or ``None`` to show
nothing), so the home page grows with the domains without one template knowing them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lti_tool.actor import Actor


@dataclass
class Panel:
    template: str
    context: dict[str, Any]
    order: int = 100


PanelProvider = Callable[[Actor], Panel | None]
_PROVIDERS: dict[str, list[tuple[int, PanelProvider]]] = {}


def register_panel(persona: str, order: int = 100) -> Callable[[PanelProvider], PanelProvider]:
    """Decorator: ``@register_panel("observer", 10)`` on ``def panel(actor) -> Panel | None``."""

    def decorator(fn: PanelProvider) -> PanelProvider:
        _PROVIDERS.setdefault(persona, []).append((order, fn))
        _PROVIDERS[persona].sort(key=lambda item: item[0])
        return fn

    return decorator


def panels_for(actor: Actor) -> list[Panel]:
    out = []
    for order, provider in _PROVIDERS.get(actor.persona, []):
        panel = provider(actor)
        if panel is not None:
            panel.order = order
            out.append(panel)
    return out
