"""Every page import goes through one import run (issue 13 §5): a file beyond the inline size is checked
cheaply in the request (size, an XLSX's zip directory and its sheet's declared rows: refused there with a
413/422 naming the limit, before openpyxl sees a byte), stored a piece at a time, and imported by the job;
its page shows the result, or every row and column that stopped it, with nothing stored and a way back.
The request's memory does not grow with the file (tracemalloc peak, not a timing).

The jobs run in-process here (``worker.jobs.run_import`` on the test database, ``worker_db``); a real RQ
worker runs them in tests/worker/test_import_jobs.py.
"""

from __future__ import annotations

import html
import io
import tracemalloc
from collections.abc import Iterator

import openpyxl
import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from lti_tool import tabular
from lti_tool.directory.models import Unit
from lti_tool.import_runs.models import ImportRun, ImportRunPart
from lti_tool.import_runs.services import file_of
from lti_tool.tabular import Limits
from lti_tool.timetable.models import Period
from tests.functional.directory.test_pages import QC_USER, count, csrf_of, roster, text_of, upload
from tests.functional.test_import_limits import upload_large
from tests.support.redis import redis_for
from worker.jobs import run_import

MiB = 1024 * 1024


@pytest.fixture
def limits() -> Iterator[None]:
    before = tabular.limits()
    yield
    tabular.configure(before)


def _units(n: int, *, bad_row: int | None = None) -> bytes:
    lines = ["代码,名称,类型"]
    lines += [f"U{i:04d},单位{i},{'nonsense' if i == bad_row else 'department'}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def _only_run(session_factory) -> ImportRun:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return s.scalars(select(ImportRun)).one()


def _parts(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(ImportRunPart)) or 0)


def test_units_beyond_the_inline_size_are_imported_by_the_job_and_the_page_shows_it(
    app, session_factory, settings, institution_id, launcher, client, limits, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    roster(session_factory, institution_id)
    before = count(session_factory, Unit, institution_id)
    tabular.configure(Limits(inline_bytes=1024))
    qc = launcher.launch(QC_USER)

    response = upload(client, qc, "/directory/units/import", "units.csv", _units(300))
    assert response.status_code == 303, text_of(response)[:500]
    page_url = response.headers["Location"]
    assert "/imports/" in page_url
    assert count(session_factory, Unit, institution_id) == before  # nothing imported in the request
    waiting = html.unescape(text_of(client.get(page_url)))
    assert "导入单位" in waiting and 'role="progressbar"' in waiting and "300 行" in waiting

    run = _only_run(session_factory)
    assert (run.kind, run.stage, run.status) == ("units", "import", "pending")
    assert "done" in run_import(run.id)
    assert count(session_factory, Unit, institution_id) == before + 300
    done = html.unescape(text_of(client.get(page_url)))
    assert "导入完成：新增 300，更新 0，未变 0" in done and "返回单位列表" in done
    assert 'href="/directory/units' in done
    assert _parts(session_factory) == 0  # the file is gone with the run's end

    # Again: an update, never a duplicate.
    upload(client, qc, "/directory/units/import", "units.csv", _units(300))
    with session_factory() as s:
        again = s.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert again is not None
    run_import(again.id)
    assert count(session_factory, Unit, institution_id) == before + 300


def test_a_refused_job_lists_rows_and_columns_and_stores_nothing(
    app, session_factory, settings, institution_id, launcher, client, limits, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    roster(session_factory, institution_id)
    before = count(session_factory, Unit, institution_id)
    tabular.configure(Limits(inline_bytes=1024))
    qc = launcher.launch(QC_USER)
    response = upload(client, qc, "/directory/units/import", "units.csv", _units(300, bad_row=250))
    assert response.status_code == 303
    run_import(_only_run(session_factory).id)
    assert count(session_factory, Unit, institution_id) == before  # rows 2–251 were good: none is stored
    run = _only_run(session_factory)
    assert run.status == "failed" and file_of_run_is_gone(session_factory)
    page = html.unescape(text_of(client.get(response.headers["Location"])))
    assert "未导入任何数据" in page
    assert "第 252 行" in page and "(row 252, column 类型)" in page
    assert "返回单位列表" in page


def file_of_run_is_gone(session_factory) -> bool:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return file_of(s, s.scalars(select(ImportRun)).one()) == b""


def test_the_period_table_beyond_the_inline_size_is_a_job_too(
    app, session_factory, settings, institution_id, launcher, client, limits, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    roster(session_factory, institution_id)
    tabular.configure(Limits(inline_bytes=64))
    qc = launcher.launch(QC_USER)
    data = "节次,开始,结束\n1,08:00,08:45\n2,08:55,09:40\n3,10:00,10:45\n4,10:55,11:40\n".encode()
    response = upload(client, qc, "/timetable/periods", "periods.csv", data)
    assert response.status_code == 303, text_of(response)[:500]
    assert count(session_factory, Period, institution_id) == 0
    run_import(_only_run(session_factory).id)
    assert count(session_factory, Period, institution_id) == 4
    done = html.unescape(text_of(client.get(response.headers["Location"])))
    assert "导入完成：新增 4" in done and "返回节次表" in done


def _workbook(rows: int) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["代码", "名称", "类型"])
    for i in range(rows):
        ws.append([f"U{i:05d}", f"单位{i}", "department"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_an_xlsx_declaring_too_many_rows_is_refused_before_openpyxl_opens_it(
    app, session_factory, settings, institution_id, launcher, client, limits, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    roster(session_factory, institution_id)
    before = count(session_factory, Unit, institution_id)
    data = _workbook(3000)
    tabular.configure(Limits(max_rows=2500, inline_bytes=1024))

    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("openpyxl was asked to open a workbook the request should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    qc = launcher.launch(QC_USER)
    response = upload(client, qc, "/directory/units/import", "units.xlsx", data)
    assert response.status_code == 413, text_of(response)[:500]
    body = html.unescape(text_of(response))
    assert "3000" in body and "2500" in body  # the rows it declares and the limit
    assert count(session_factory, Unit, institution_id) == before
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ImportRun)) == 0  # nothing kept, no job


def test_an_xlsx_within_the_limits_goes_to_the_job_with_its_declared_rows(
    app, session_factory, settings, institution_id, launcher, client, limits, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    roster(session_factory, institution_id)
    before = count(session_factory, Unit, institution_id)
    tabular.configure(Limits(inline_bytes=1024))
    qc = launcher.launch(QC_USER)
    response = upload(client, qc, "/directory/units/import", "units.xlsx", _workbook(400))
    assert response.status_code == 303, text_of(response)[:500]
    run = _only_run(session_factory)
    assert run.rows == 400  # from the sheet's <dimension>, read without openpyxl
    run_import(run.id)
    assert count(session_factory, Unit, institution_id) == before + 400


@pytest.mark.parametrize(
    ("path", "name"), [("/directory/units/import", "units.xlsx"), ("/timetable/periods", "periods.xlsx")]
)
def test_an_xlsx_bomb_is_refused_by_every_import_page(
    app, session_factory, settings, institution_id, launcher, client, path, name
) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.test_tabular import _bomb

    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    response = upload_large(client, qc, path, name, _bomb(200))
    assert response.status_code == 413, text_of(response)[:500]
    assert "100 倍" in html.unescape(text_of(response))  # the ratio limit, named
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_file_beyond_the_size_limit_is_a_413_naming_it(
    app, session_factory, settings, institution_id, launcher, client, limits
) -> None:  # type: ignore[no-untyped-def]
    roster(session_factory, institution_id)
    tabular.configure(Limits(max_bytes=64 * 1024))
    qc = launcher.launch(QC_USER)
    response = upload(client, qc, "/timetable/periods", "periods.csv", b"a,b,c\n" * 20_000)
    assert response.status_code == 413
    assert "64 KB" in html.unescape(text_of(response))


def _peak_while_uploading(client, qc, path: str, data: bytes) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(status, tracemalloc peak) of one upload whose multipart body was encoded beforehand: the peak is
    what the request itself allocated."""
    csrf = csrf_of(qc.get(client, "/home").get_data(as_text=True))
    body, length, boundary = stream_encode_multipart(
        {"csrf": csrf, "file": FileStorage(io.BytesIO(data), "units.csv")}, use_tempfile=False
    )
    del data
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        response = client.post(
            f"{path}?s={qc.token}",
            input_stream=body,
            content_length=length,
            content_type=f'multipart/form-data; boundary="{boundary}"',
        )
        return response.status_code, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_request_memory_does_not_grow_with_the_file(
    app, session_factory, settings, institution_id, launcher, client, limits
) -> None:  # type: ignore[no-untyped-def]
    """A 3 MB and a 14 MB units CSV handed to the job: the request streams the spooled upload through the
    checks and into the run's pieces, so its peak stays under one bound, smaller than either file."""
    redis_for(settings)
    roster(session_factory, institution_id)
    tabular.configure(Limits(max_rows=1_000_000, inline_bytes=1024))
    qc = launcher.launch(QC_USER)
    peaks = []
    for rows in (100_000, 450_000):
        data = _units(rows)
        size = len(data)
        status, peak = _peak_while_uploading(client, qc, "/directory/units/import", data)
        assert status == 303
        peaks.append((size, peak))
    (small, small_peak), (large, large_peak) = peaks
    assert large > 13 * MiB and small < 4 * MiB
    bound = 3 * MiB
    assert small_peak < bound and large_peak < bound, [(s / MiB, p / MiB) for s, p in peaks]
    with session_factory() as s:
        sizes = [len(file_of(s, run)) for run in s.scalars(select(ImportRun).order_by(ImportRun.id))]
    assert sizes == [small, large]  # every byte stored, a piece at a time
