"""Reading CSV and XLSX uploads into rows keyed by canonical column names.

Every import (units, people, periods, timetable, observations, patrols) goes through ``read_table``:
headers may be English or Chinese (each importer passes its aliases), the file size and row count are
capped, XLSX is read with defusedxml protection, and every problem is reported as
"row N, column C: …" with the spreadsheet's own row numbers (header = row 1). An importer collects all
row errors and stores nothing when there is any (``ValidationFailed``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lti_tool.errors import ValidationFailed

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000


@dataclass
class Row:
    number: int
    """The row's number as the user sees it in the file (the header is row 1)."""
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


@dataclass
class RowErrors:
    """Accumulates row-and-column errors; ``raise_if_any`` aborts the import with all of them."""

    headers: dict[str, str] = field(default_factory=dict)
    """canonical column → the header text used in the file (to name columns the user's way)."""
    errors: list[str] = field(default_factory=list)

    def add(self, row: int, column: str, message: str) -> None:
        shown = self.headers.get(column, column)
        self.errors.append(f"第 {row} 行，列“{shown}”：{message} (row {row}, column {shown})")

    def raise_if_any(self, what: str) -> None:
        if self.errors:
            raise ValidationFailed(
                "%(what)s: %(count)s problem(s) found; nothing was imported.",
                details=self.errors,
                what=what,
                count=len(self.errors),
            )


@dataclass
class Table:
    rows: list[Row]
    errors: RowErrors


def _normalise(header: str) -> str:
    return header.replace("\ufeff", "").strip().lower().replace(" ", "_")


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), GB18030 (what Chinese Excel saves as "CSV"), or UTF-16 with its BOM
    (Excel's "Unicode text"). NUL is refused: no text holds it, and PostgreSQL cannot store it."""
    encodings = (
        ("utf-16",)
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        else ("utf-8-sig", "gb18030")
    )
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise ValidationFailed(
                "The file contains NUL characters, so it is not a text (CSV) file; "
                "save it from Excel as “CSV UTF-8” or as XLSX."
            )
        return text
    raise ValidationFailed("The file is neither UTF-8 nor GB18030 text.")


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text), dialect)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.xml import DEFUSEDXML

    # openpyxl parses with defusedxml when it is installed (a dependency): no XML bombs, no entities.
    if not DEFUSEDXML:  # pragma: no cover - defusedxml is a declared dependency
        raise ValidationFailed("XLSX import needs the defusedxml package.")

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ValidationFailed(
            "The file is not a readable XLSX workbook: %(reason)s", reason=str(exc)
        ) from exc
    try:  # a read-only workbook keeps the archive open: close it even when the reader stops early
        for values in wb.worksheets[0].iter_rows(values_only=True):
            yield [_cell_text(v) for v in values]
    finally:
        wb.close()


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_table(data: bytes, filename: str, aliases: dict[str, list[str]], required: list[str]) -> Table:
    """Parse ``data`` (CSV or XLSX by file name or magic) into rows keyed by canonical column names."""
    if len(data) > MAX_BYTES:
        raise ValidationFailed("The file is larger than %(mb)s MB.", mb=MAX_BYTES // 1024 // 1024)
    is_xlsx = filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK"
    source = _xlsx_rows(data) if is_xlsx else _csv_rows(data)
    lookup = {_normalise(a): canonical for canonical, names in aliases.items() for a in [canonical, *names]}
    errors = RowErrors()
    try:
        header = next(source)
    except StopIteration:
        raise ValidationFailed("The file is empty.") from None
    columns: list[str | None] = []
    for text in header:
        canonical = lookup.get(_normalise(text))
        if canonical and canonical in errors.headers:  # which of the two would win is anybody's guess
            raise ValidationFailed(
                "Row 1 (header): “%(first)s” and “%(second)s” are the same column; keep one of them.",
                first=errors.headers[canonical],
                second=text.strip(),
            )
        columns.append(canonical)
        if canonical:
            errors.headers[canonical] = text.strip()
    missing = [c for c in required if c not in errors.headers]
    if missing:
        shown = ", ".join(f"{c} / {aliases[c][0]}" if aliases.get(c) else c for c in missing)
        raise ValidationFailed("Row 1 (header): missing column(s): %(columns)s", columns=shown)
    rows: list[Row] = []
    for number, raw in enumerate(source, start=2):
        if number - 1 > MAX_ROWS:
            raise ValidationFailed("The file has more than %(max)s rows.", max=MAX_ROWS)
        if not any(cell.strip() for cell in raw):
            continue
        values = {col: cell for col, cell in zip(columns, raw, strict=False) if col}
        rows.append(Row(number, values))
    return Table(rows, errors)


def read_file(path: str | Path) -> tuple[bytes, str]:
    p = Path(path)
    if not p.is_file():
        raise ValidationFailed("No such file: %(path)s", path=str(p))
    return p.read_bytes(), p.name
