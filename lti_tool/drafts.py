"""Records written as drafts and saved as the person types: the compare-and-set both record systems use.

An observation (observations/) and a contact record (contacts/) are filled in on a phone, saved on the
server every few seconds and finally submitted. Each row carries ``draft_version``; every save names the
version its page holds and bumps it with one conditional UPDATE, so a second tab or device holding an
older version gets 409 instead of silently overwriting (docs/decisions.md S-2). The web half (the JSON
answers of the autosave and submit endpoints) is lti_tool/draft_views.py; the form's script is
static/observations.js with templates/_drafts.html.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.errors import BadRequest, Conflict, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.inputs import parse_int

Row = TypeVar("Row")


@dataclass
class SaveResult(Generic[Row]):
    """What one save stored: the row, the fields saved and those refused."""

    row: Row
    saved: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    """Fields not stored because their value could not be read: field name → msgid."""


class RecordIncomplete(ValidationFailed):
    """Submit refused: ``fields`` maps each field name to what it still needs (a msgid)."""

    def __init__(self, fields: dict[str, str], labels: dict[str, str]) -> None:
        super().__init__(
            N_("The record is incomplete: %(count)s field(s) need attention."),
            details=[
                (N_("%(field)s: %(need)s"), {"field": labels.get(k, k), "need": v}) for k, v in fields.items()
            ],
            count=len(fields),
        )
        self.fields = fields


def bump_draft_version(session: Session, row: Any, expected: Any) -> None:
    """Compare-and-set on ``row.draft_version``: an older tab or device loses with 409, never silently.

    ``row`` is a mapped row with ``id``, ``draft_version`` and ``updated_at``; ``expected`` is the version
    the page sent (a string from a form or a number from JSON).
    """
    expected_version = parse_int(expected)
    if expected_version is None:
        raise BadRequest("The draft version is missing.")
    model = type(row)
    result = session.execute(
        update(model)
        .where(model.id == row.id, model.draft_version == expected_version)
        .values(draft_version=expected_version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row, ["draft_version"])
        raise Conflict(
            "This record was changed in another window or device (version %(current)s, "
            "this page has %(expected)s). Reload the page to continue.",
            current=row.draft_version,
            expected=expected_version,
        )
    session.refresh(row, ["draft_version", "updated_at"])
