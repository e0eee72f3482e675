"""Whole numbers out of request text (URL paths, query strings, form fields, JSON): one reading for all;
and the one character no request text may carry.

Every primary key and counter is an SQL ``integer``. A number past its range names no row, yet it
reaches the database as a parameter, and the database fails instead of finding nothing: PostgreSQL
raises "integer out of range", SQLite's driver refuses anything past 64 bits. So a number from a request
is checked against the column's range here, before any query, and one that cannot name a row is
answered like one that names no row: the URL converter makes it a 404, a filter or a choice a 400 with
the value quoted.

``str.isdigit`` is not the test either: it accepts "²", which ``int`` refuses.

NUL (``\\x00``) is refused at the door, whatever the field: PostgreSQL refuses it in any text value, so it
would fail whichever query or insert first met it, and nobody types it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask import request
from werkzeug.routing import IntegerConverter, ValidationError
from werkzeug.routing.map import Map

from lti_tool.errors import BadRequest

MAX_SQL_INT = 2**31 - 1
"""The largest value of an SQL ``integer`` (PostgreSQL's ``int4``): every id and version column."""


def parse_int(value: Any, low: int = 0, high: int = MAX_SQL_INT) -> int | None:
    """``value`` as a whole number in ``low``…``high``, else None: an int (not a bool), an integral
    float, or text of ASCII digits with an optional sign."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        number = int(value) if value.is_integer() and abs(value) <= high else None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > len(str(high)):
            return None  # more digits than ``high`` has: out of range, and int() of 5000 digits fails
        number = int(text)
    else:
        return None
    return number if number is not None and low <= number <= high else None


def row_id(value: Any) -> int | None:
    """The row id ``value`` spells, or None when it cannot be one (empty, not a number, out of range)."""
    return parse_int(value, 1, MAX_SQL_INT)


def id_field(source: Mapping[str, Any], name: str) -> int | None:
    """An optional id chosen in a query string or a form (a filter, a select): absent or empty is None;
    anything else that cannot be an id is refused, quoting what was sent."""
    raw = source.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    found = row_id(text)
    if found is None:
        raise BadRequest("“%(value)s” is not one of the choices offered.", value=text[:40])
    return found


def refuse_nul_characters() -> None:
    """``before_request``: a request whose path, query, form fields or JSON text holds NUL gets a 400.
    Uploaded files are the importers' to judge (``tabular``)."""
    if any("\x00" in text for text in _request_texts()) or (
        request.is_json and b"\\u0000" in request.get_data()
    ):
        raise BadRequest("The request contains a NUL character, which no text may contain.")


def _request_texts() -> Iterator[str]:
    yield request.path
    for source in (request.args, request.form):
        for key, values in source.lists():
            yield key
            yield from values


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every URL rule: a positive id within an SQL ``integer``. A larger number makes the
    rule not match, so the answer is the ordinary 404 and no query ever sees the number."""

    def __init__(
        self,
        url_map: Map,
        fixed_digits: int = 0,
        min: int | None = 1,  # Werkzeug's names:
        max: int | None = MAX_SQL_INT,
        signed: bool = False,
    ) -> None:  # <int(max=9):x> passes them
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_SQL_INT)):  # int() refuses text past 4300 digits with a ValueError
            raise ValidationError
        return super().to_python(value)
