"""Reading CSV and XLSX uploads into rows keyed by canonical column names.

Every import (units, people, periods, timetable, observations, patrols, contact points and records,
institutions) goes through ``read_table``: headers may be English or Chinese (each importer passes its
aliases), XLSX is read with defusedxml protection, and every problem is reported as "row N, column C: …"
with the spreadsheet's own row numbers (header = row 1). An importer collects all row errors and stores
nothing when there is any (``ValidationFailed``).

The limits (``Limits``, configured from ``TINGKE_IMPORT_*``, README "Configuration") apply *while*
reading, never after the whole file is parsed: a CSV is decoded and split as a stream (a field longer
than the limit stops the reader at that row, the row limit at the first row beyond it); an XLSX's zip
directory is read first and a workbook that would unpack beyond the limit, or any part compressed more
than the ratio allows, is refused before openpyxl inflates a byte of it (``zipfile`` never inflates a
member beyond the size its directory entry states, so the directory's numbers bound the work); its
sheet is then streamed in openpyxl's read-only mode. Size refusals answer 413 (``TooLarge``), a field
too long 422, each naming the limit. Uploads larger than ``Limits.inline_bytes`` are imported by a
worker job (``lti_tool/import_runs``), not in the web request.
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from lti_tool.errors import TooLarge, ValidationFailed

if TYPE_CHECKING:
    from lti_tool.config import Settings

MiB = 1024 * 1024
RATIO_FLOOR_BYTES = 256 * 1024
"""A zip member is judged by its compression ratio only from this unpacked size on: tiny XML parts
(styles, relations) compress far beyond any ratio and are harmless."""
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """What one upload may be; every value has a ``TINGKE_IMPORT_*`` setting (lti_tool/config.py)."""

    max_bytes: int = 16 * MiB
    """The file itself (the request body limit, MAX_UPLOAD_BYTES, is 16 MB too)."""
    max_rows: int = 100_000
    """Data rows (the header not counted)."""
    max_field_chars: int = 20_000
    """Characters in one cell."""
    max_unpacked_bytes: int = 100 * MiB
    """An XLSX's parts, unpacked, all together (from the zip directory, before anything is inflated)."""
    max_ratio: int = 100
    """Unpacked ÷ packed size of any one XLSX part of at least 256 KiB unpacked."""
    inline_bytes: int = 1 * MiB
    """Uploads whose work (a CSV's bytes, an XLSX's unpacked bytes) is larger are imported by a worker job
    with a progress page instead of inside the web request."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            max_field_chars=settings.import_max_field_chars,
            max_unpacked_bytes=settings.import_max_unpacked_bytes,
            max_ratio=settings.import_max_ratio,
            inline_bytes=settings.import_inline_bytes,
        )


_LIMITS = Limits()
_PROGRESS: contextvars.ContextVar[Callable[[float, int], None] | None] = contextvars.ContextVar(
    "tabular_progress", default=None
)
PROGRESS_EVERY = 2000
"""Rows between two calls of the progress callback (``reporting``)."""


def configure(limits: Limits) -> None:
    """Set the limits of this process (the app factory, the CLI and the worker call it from settings)."""
    global _LIMITS
    _LIMITS = limits


def limits() -> Limits:
    return _LIMITS


@contextlib.contextmanager
def reporting(callback: Callable[[float, int], None]) -> Iterator[None]:
    """While inside, the reader calls ``callback(fraction of the file read, rows read)`` every
    ``PROGRESS_EVERY`` rows: the import job's progress bar."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def size_text(n: int) -> str:
    """A size as people read it: 16 MB, 512 KB, 900 bytes."""
    if n >= MiB:
        return f"{n / MiB:.3g} MB"
    if n >= 1024:
        return f"{n / 1024:.3g} KB"
    return f"{n} bytes"


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


def as_stream(data: bytes | IO[bytes]) -> IO[bytes]:
    return io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data


def _length(stream: IO[bytes]) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


@dataclass(frozen=True)
class Upload:
    """What an upload is, judged without parsing it: CSV or XLSX, its size, and the work it makes (a CSV's
    bytes, an XLSX's unpacked bytes) — the import views compare that with ``Limits.inline_bytes``."""

    is_xlsx: bool
    size: int
    work_bytes: int
    declared_rows: int = 0
    """An XLSX's data rows as its first sheet's ``<dimension>`` declares them (0 when it does not say); a
    CSV's are counted by ``check_table``."""

    @property
    def runs_inline(self) -> bool:
        return self.work_bytes <= _LIMITS.inline_bytes


def inspect_upload(data: bytes | IO[bytes], filename: str) -> Upload:
    """The cheap checks every upload passes before any row is read: its size, and for an XLSX its zip
    directory (unpacked total, each part's compression ratio). Raises ``TooLarge`` naming the limit."""
    stream = as_stream(data)
    size = _length(stream)
    if size > _LIMITS.max_bytes:
        raise TooLarge(
            "The file is %(size)s, larger than the import limit of %(limit)s.",
            size=size_text(size),
            limit=size_text(_LIMITS.max_bytes),
        )
    is_xlsx = filename.lower().endswith((".xlsx", ".xlsm")) or stream.read(2) == b"PK"
    stream.seek(0)
    if not is_xlsx:
        return Upload(False, size, size)
    work, declared = _check_zip(stream)
    return Upload(True, size, work, declared)


def _check_zip(stream: IO[bytes]) -> tuple[int, int]:
    """The workbook's unpacked size from its zip directory, refusing a zip bomb before inflating it, and
    the data rows its first sheet declares (refused beyond the row limit before openpyxl reads a row)."""
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            _check_parts(members)
            declared = _declared_rows(archive)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise ValidationFailed(
            "The file is not a readable XLSX workbook: %(reason)s", reason=str(exc)
        ) from exc
    finally:
        stream.seek(0)
    if declared > _LIMITS.max_rows:
        raise TooLarge(
            "The workbook's first sheet declares %(rows)s rows, more than the import limit of %(max)s rows; "
            "the file was not opened. Split it into smaller files.",
            rows=declared,
            max=_LIMITS.max_rows,
        )
    return sum(info.file_size for info in members), declared


HEAD_BYTES = 64 * 1024
"""How much of a workbook part is inflated to find the first sheet and its declared dimension."""
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*?\b(?:\w+:)?id=\"([^\"]+)\"")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"[A-Za-z$]*\d*(?::[A-Za-z$]*(\d+))?\"")


def _head(archive: zipfile.ZipFile, name: str) -> bytes:
    """The first ``HEAD_BYTES`` of a part, inflating no more (empty when the part is missing)."""
    try:
        with archive.open(name) as part:
            return part.read(HEAD_BYTES)
    except KeyError:
        return b""


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The part openpyxl reads as the first worksheet: the workbook's first ``<sheet>`` through its
    relationship; ``xl/worksheets/sheet1.xml`` when the workbook does not say."""
    sheet = _SHEET.search(_head(archive, "xl/workbook.xml"))
    if sheet:
        for rel in _RELATIONSHIP.findall(_head(archive, "xl/_rels/workbook.xml.rels")):
            ident, target = re.search(rb'\bId="([^"]*)"', rel), re.search(rb'\bTarget="([^"]*)"', rel)
            if ident and target and ident.group(1) == sheet.group(1):
                path = target.group(1).decode(errors="replace")
                return path.lstrip("/") if path.startswith("/") else f"xl/{path}"
    return "xl/worksheets/sheet1.xml"


MIN_ROW_BYTES = 12
"""The least XML a row takes (``<row r="9"/>``): a sheet part smaller than its declared rows need lies."""


def _declared_rows(archive: zipfile.ZipFile) -> int:
    """The data rows (header not counted) the first sheet's ``<dimension ref="A1:M2000">`` declares, which
    spreadsheet programs write before the rows; 0 when it is not there, or when the part is too small to
    hold them (some programs declare the whole sheet, A1:XFD1048576, for a few rows)."""
    name = _first_sheet(archive)
    found = _DIMENSION.search(_head(archive, name))
    if not found or not found.group(1):
        return 0
    last = int(found.group(1))
    try:
        unpacked = archive.getinfo(name).file_size
    except KeyError:
        return 0
    return max(last - 1, 0) if unpacked >= last * MIN_ROW_BYTES else 0


def _check_parts(members: list[zipfile.ZipInfo]) -> None:
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_FLOOR_BYTES and ratio > _LIMITS.max_ratio:
            raise TooLarge(
                "The workbook's part %(part)s unpacks %(ratio)s times larger than it is stored "
                "(to %(size)s), beyond the import limit of %(limit)s times; the file was not opened.",
                part=info.filename[:100],
                ratio=int(ratio),
                size=size_text(info.file_size),
                limit=_LIMITS.max_ratio,
            )
    if total > _LIMITS.max_unpacked_bytes:
        raise TooLarge(
            "The workbook unpacks to %(size)s, beyond the import limit of %(limit)s; the file was not "
            "opened. Save it as CSV or split it.",
            size=size_text(total),
            limit=size_text(_LIMITS.max_unpacked_bytes),
        )


def _encoding(stream: IO[bytes]) -> str:
    """UTF-8 (with or without BOM), GB18030 (what Chinese Excel saves as "CSV"), or UTF-16 with its BOM
    (Excel's "Unicode text"), found by decoding the stream chunk by chunk (nothing kept). NUL is refused:
    no text holds it, and PostgreSQL cannot store it."""
    start = stream.read(4)
    stream.seek(0)
    utf16 = start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    for encoding in ("utf-16",) if utf16 else ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := stream.read(READ_CHUNK):
                if "\x00" in decoder.decode(chunk):
                    raise ValidationFailed(
                        "The file contains NUL characters, so it is not a text (CSV) file; "
                        "save it from Excel as “CSV UTF-8” or as XLSX."
                    )
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        finally:
            stream.seek(0)
        return encoding
    raise ValidationFailed("The file is neither UTF-8 nor GB18030 text.")


def _field_too_long(row: int) -> ValidationFailed:
    return ValidationFailed(
        "Row %(row)s: a cell is longer than the import limit of %(limit)s characters; nothing was imported.",
        row=row,
        limit=_LIMITS.max_field_chars,
    )


def _csv_rows(stream: IO[bytes], size: int) -> Generator[list[str]]:
    encoding = _encoding(stream)
    sample = codecs.getincrementaldecoder(encoding)(errors="ignore").decode(stream.read(4096))
    stream.seek(0)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # The csv module's own cap (process-wide, 128 K characters by default) stops a runaway field inside
    # the parser; ours is checked on every cell below. Raising the module's cap never lowers ours.
    if csv.field_size_limit() <= _LIMITS.max_field_chars:
        csv.field_size_limit(_LIMITS.max_field_chars + 1)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    reader = csv.reader(text, dialect)
    progress = _PROGRESS.get()
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    raise _field_too_long(reader.line_num) from None
                raise ValidationFailed(
                    "Row %(row)s: the CSV cannot be read (%(reason)s).", row=reader.line_num, reason=str(exc)
                ) from None
            if progress is not None and reader.line_num % PROGRESS_EVERY == 0:
                progress(stream.tell() / max(size, 1), reader.line_num)
            yield cells
    finally:
        text.detach()  # the caller's stream stays open


def _xlsx_rows(stream: IO[bytes]) -> Generator[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.xml import DEFUSEDXML

    # openpyxl parses with defusedxml when it is installed (a dependency): no XML bombs, no entities.
    if not DEFUSEDXML:  # pragma: no cover - defusedxml is a declared dependency
        raise ValidationFailed("XLSX import needs the defusedxml package.")

    try:
        wb = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ValidationFailed(
            "The file is not a readable XLSX workbook: %(reason)s", reason=str(exc)
        ) from exc
    progress = _PROGRESS.get()
    try:  # a read-only workbook keeps the archive open: close it even when the reader stops early
        sheet = wb.worksheets[0]
        declared = getattr(sheet, "max_row", None) or 0
        # A sheet's declared dimension may claim 16,384 columns: without it, rows hold only their cells.
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(min(number / declared, 1.0) if declared else 0.0, number)
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


def read_table(
    data: bytes | IO[bytes], filename: str, aliases: dict[str, list[str]], required: list[str]
) -> Table:
    """Parse ``data`` (CSV or XLSX by file name or magic) into rows keyed by canonical column names,
    within ``limits()``: nothing beyond a limit is ever read (see the module's docstring)."""
    rows, errors, _ = _read(data, filename, aliases, required, keep=True)
    return Table(rows, errors)


def check_table(
    data: bytes | IO[bytes], filename: str, aliases: dict[str, list[str]], required: list[str]
) -> int:
    """Read the file as ``read_table`` would, keeping no row: its header and limits checked, the number of
    data rows returned. For a large CSV in the web request, before it is handed to a job."""
    return _read(data, filename, aliases, required, keep=False)[2]


def _read(
    data: bytes | IO[bytes], filename: str, aliases: dict[str, list[str]], required: list[str], *, keep: bool
) -> tuple[list[Row], RowErrors, int]:
    stream = as_stream(data)
    upload = inspect_upload(stream, filename)
    source = _xlsx_rows(stream) if upload.is_xlsx else _csv_rows(stream, upload.size)
    try:
        return _rows(source, aliases, required, keep=keep)
    finally:
        source.close()


def _rows(
    source: Iterator[list[str]], aliases: dict[str, list[str]], required: list[str], *, keep: bool
) -> tuple[list[Row], RowErrors, int]:
    lookup = {_normalise(a): canonical for canonical, names in aliases.items() for a in [canonical, *names]}
    errors = RowErrors()
    try:
        header = next(source)
    except StopIteration:
        raise ValidationFailed("The file is empty.") from None
    columns: list[str | None] = []
    for text in header:
        if len(text) > _LIMITS.max_field_chars:
            raise _field_too_long(1)
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
    count = 0
    max_rows, max_field = _LIMITS.max_rows, _LIMITS.max_field_chars
    for number, raw in enumerate(source, start=2):
        if number - 1 > max_rows:
            raise TooLarge(
                "The file has more than %(max)s rows, the import limit; split it into smaller files.",
                max=max_rows,
            )
        if not any(cell.strip() for cell in raw):
            continue
        for col, cell in zip(columns, raw, strict=False):
            if len(cell) > max_field:
                shown = errors.headers.get(col, "") if col else ""
                raise ValidationFailed(
                    "Row %(row)s, column “%(column)s”: the cell is longer than the import limit of %(limit)s "
                    "characters; nothing was imported.",
                    row=number,
                    column=shown,
                    limit=max_field,
                )
        count += 1
        if keep:
            rows.append(Row(number, {col: cell for col, cell in zip(columns, raw, strict=False) if col}))
    return rows, errors, count


def read_file(path: str | Path) -> tuple[bytes, str]:
    p = Path(path)
    if not p.is_file():
        raise ValidationFailed("No such file: %(path)s", path=str(p))
    return p.read_bytes(), p.name
