"""Import limits apply while a file is read (issue 13 §5): lti_tool/tabular.py.

A field, a row count or an XLSX's unpacked size beyond its limit stops the reader there with a message
naming the limit; a zip bomb is refused from its zip directory without a byte of it being inflated.
"""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from collections.abc import Iterator

import openpyxl
import pytest

from lti_tool import tabular
from lti_tool.errors import TooLarge, ValidationFailed
from lti_tool.tabular import Limits, check_table, inspect_upload, read_table

ALIASES = {"employee_no": ["工号"], "name": ["姓名"], "note": ["备注"]}


@pytest.fixture(autouse=True)
def _default_limits() -> Iterator[None]:
    before = tabular.limits()
    tabular.configure(Limits())
    yield
    tabular.configure(before)


def _csv(rows: int, extra: str = "") -> bytes:
    lines = ["工号,姓名,备注"] + [f"{10000 + i},教师{i},{extra}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_a_field_beyond_the_limit_is_a_422_naming_the_limit_and_its_row() -> None:
    data = "工号,姓名,备注\n1,甲,短\n2,乙,".encode() + b"x" * 200_000 + "\n3,丙,\n".encode()
    with pytest.raises(ValidationFailed) as caught:
        read_table(data, "p.csv", ALIASES, ["employee_no"])
    assert caught.value.status == 422
    assert "20000" in str(caught.value) and "Row 3" in str(caught.value)

    tabular.configure(Limits(max_field_chars=10))  # below the csv module's own cap: our check names it
    with pytest.raises(ValidationFailed) as caught:
        read_table("工号,姓名,备注\n1,甲,短\n2,乙,一二三四五六七八九十十一\n".encode(), "p.csv", ALIASES, [])
    assert caught.value.status == 422
    message = str(caught.value)
    assert "Row 3" in message and "备注" in message and "10 characters" in message


def test_rows_beyond_the_limit_stop_the_reader_there() -> None:
    tabular.configure(Limits(max_rows=1000))
    assert len(read_table(_csv(1000), "p.csv", ALIASES, []).rows) == 1000
    seen: list[int] = []
    original = tabular._rows

    def counting(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        def tap():  # type: ignore[no-untyped-def]
            for cells in source:
                seen.append(1)
                yield cells

        return original(tap(), *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "_rows", counting)
        with pytest.raises(TooLarge) as caught:
            read_table(_csv(50_000), "p.csv", ALIASES, [])
    assert caught.value.status == 413 and "1000 rows" in str(caught.value)
    assert len(seen) == 1002  # the header, 1000 rows and the one beyond: the other 48,999 never read
    assert check_table(_csv(1000), "p.csv", ALIASES, []) == 1000


def test_the_file_size_limit_is_413_and_named() -> None:
    tabular.configure(Limits(max_bytes=1024))
    with pytest.raises(TooLarge) as caught:
        inspect_upload(_csv(200), "p.csv")
    assert caught.value.status == 413 and "1 KB" in str(caught.value)


def _workbook(rows: int) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["工号", "姓名", "备注"])
    for i in range(rows):
        ws.append([10000 + i, f"教师{i}", ""])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _bomb(unpacked_mb: int) -> bytes:
    """A workbook whose sheet inflates to ``unpacked_mb`` MB of rows from well under a megabyte, written
    in pieces so the test itself never holds the inflated sheet."""
    real = zipfile.ZipFile(io.BytesIO(_workbook(1)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in real.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                continue
            bomb.writestr(info.filename, real.read(info.filename))
        row = b'<row><c t="inlineStr"><is><t>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</t></is></c></row>'
        with bomb.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                        b'spreadsheetml/2006/main"><sheetData>')  # fmt: skip
            chunk = row * (1024 * 1024 // len(row))
            for _ in range(unpacked_mb):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def test_an_xlsx_bomb_is_refused_from_its_directory_without_inflating_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bomb = _bomb(200)
    assert len(bomb) < 2 * 1024 * 1024  # about 0.6 MB on disk, 200 MB unpacked

    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the bomb was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", never)  # nothing inflated, not even by openpyxl
    monkeypatch.setattr(openpyxl, "load_workbook", never)
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge) as caught:
            read_table(bomb, "bomb.xlsx", ALIASES, [])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.status == 413
    assert "100 times" in str(caught.value) and "xl/worksheets/sheet1.xml" in str(caught.value)
    assert peak < 16 * 1024 * 1024, peak

    tabular.configure(Limits(max_ratio=100_000, max_unpacked_bytes=50 * 1024 * 1024))
    with pytest.raises(TooLarge) as caught:
        read_table(bomb, "bomb.xlsx", ALIASES, [])
    assert "50 MB" in str(caught.value) and "200 MB" in str(caught.value)


def test_an_honest_workbook_streams_within_the_limits() -> None:
    data = _workbook(3000)
    assert inspect_upload(data, "p.xlsx").is_xlsx
    progress: list[tuple[float, int]] = []
    with tabular.reporting(lambda fraction, rows: progress.append((fraction, rows))):
        table = read_table(data, "p.xlsx", ALIASES, ["employee_no"])
    assert len(table.rows) == 3000 and table.rows[-1].get("name") == "教师2999"
    assert [rows for _, rows in progress] == [2000] and 0 < progress[0][0] <= 1
    tabular.configure(Limits(max_rows=2999))
    with pytest.raises(TooLarge):
        read_table(data, "p.xlsx", ALIASES, [])


def test_a_lying_sheet_dimension_does_not_pad_rows() -> None:
    """A sheet that declares A1:XFD1048576 would make openpyxl pad every row to 16,384 cells."""
    data = _workbook(3)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb'<dimension ref="[^"]+"\s*/>', b'<dimension ref="A1:XFD1048576"/>', body)
                assert b"XFD1048576" in body
            dst.writestr(info.filename, body)
    widths: list[int] = []
    original = tabular._rows

    def measuring(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        def tap():  # type: ignore[no-untyped-def]
            for cells in source:
                widths.append(len(cells))
                yield cells

        return original(tap(), *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "_rows", measuring)
        assert len(read_table(out.getvalue(), "p.xlsx", ALIASES, []).rows) == 3
    assert max(widths) == 3


def test_gb18030_and_nul_are_judged_as_a_stream() -> None:
    table = read_table("工号,姓名\n1,王\n".encode("gb18030"), "p.csv", ALIASES, [])
    assert table.rows[0].get("name") == "王"
    with pytest.raises(ValidationFailed, match="NUL"):
        read_table(b"a,b\n" + b"x" * 100_000 + b"\x00\n", "p.csv", ALIASES, [])
