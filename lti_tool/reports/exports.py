"""Writing report spreadsheets safely: the cells of the annual cadre file (``reports/cadre_file.py``).

Cells are safe: every text is written as an explicit string cell, and a text starting with
``= + - @`` or a control character gets a leading apostrophe, so a name or unit typed as ``=HYPERLINK(…)``
never becomes a formula in Excel, nor after a save-as-CSV (docs/stack-notes.md §9, docs/decisions.md I-3).
"""

from __future__ import annotations

from typing import Any

from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
HEAD_FILL = PatternFill("solid", fgColor="F1E6E6")
SHORT_FONT = Font(color="B33A3A", bold=True)


def safe_text(value: object) -> str:
    """Text for a cell: a leading formula character is neutralised with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


def put(ws: Worksheet, row: int, col: int, value: object) -> Any:
    """Write one cell: ints and floats as numbers, everything else as an explicit string cell."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, bool) or value is None:
        cell.value = safe_text("是" if value else "") if isinstance(value, bool) else None
        if value is not None:
            cell.data_type = "s"
    elif isinstance(value, int | float):
        cell.value = value
    else:
        cell.value = safe_text(value)
        cell.data_type = "s"
    return cell
