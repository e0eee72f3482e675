"""Large imports run as worker jobs with progress, and the web worker's memory stays bounded (issue 13 §5).

The 6 MB people CSV of 200,000 rows that grew a web worker to 1.2 GB: with the default row limit it is
refused with a 413 naming the limit while the request's Python allocations stay small (tracemalloc
peak), and under a larger limit it is handed to a job, again without parsing it in the request. A file
above ``TINGKE_IMPORT_INLINE_BYTES`` is imported by a real RQ worker (a separate process) through the run's
page, which polls and then shows what was stored — or every row that stopped it, with nothing stored.
"""

from __future__ import annotations

import html
import json
import tracemalloc
from collections.abc import Iterator

import pytest
from rq import Queue
from sqlalchemy import select

from lti_tool import tabular
from lti_tool.directory.models import Person
from lti_tool.import_runs.models import ImportRun
from lti_tool.import_runs.services import file_of, job_id_of, progress_key
from lti_tool.tabular import Limits
from tests.functional.directory.test_pages import QC_USER, TEACHER, count, roster
from tests.functional.test_import_limits import upload_large
from tests.support.redis import finish, redis_for, start_burst_worker

MiB = 1024 * 1024


@pytest.fixture
def limits() -> Iterator[None]:
    before = tabular.limits()
    yield
    tabular.configure(before)


def _people(rows: int, *, bad_row: int | None = None) -> bytes:
    lines = ["工号,姓名,邮箱,单位"]
    for i in range(rows):
        email = "not-an-email" if i == bad_row else f"t{i}@jti.edu.cn"
        lines.append(f"{100000 + i},教师{i},{email},TR")
    return ("\n".join(lines) + "\n").encode()


def _peak_during(call):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = call()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_200_000_rows_are_refused_or_handed_to_a_job_with_bounded_memory(
    app, session_factory, settings, institution_id, launcher, client, limits
) -> None:  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    data = _people(200_000)
    assert len(data) > 6 * MiB

    response, peak = _peak_during(
        lambda: upload_large(client, qc, "/directory/people/import", "people.csv", data)
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:500]
    assert "100000" in html.unescape(response.get_data(as_text=True))
    assert peak < 48 * MiB, f"{peak / MiB:.0f} MiB"  # the file itself is 6.4 MB; parsed it was ~1 GB
    assert count(session_factory, Person, institution_id) == 3

    tabular.configure(Limits(max_rows=250_000))
    response, peak = _peak_during(
        lambda: upload_large(client, qc, "/directory/people/import", "people.csv", data)
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert "/imports/" in response.headers["Location"]
    assert peak < 48 * MiB, f"{peak / MiB:.0f} MiB"
    with session_factory() as s:
        run = s.scalars(select(ImportRun)).one()
        assert (run.status, run.rows, run.kind, len(file_of(s, run))) == (
            "pending",
            200_000,
            "people",
            len(data),
        )
    assert job_id_of(run.id) in Queue("default", connection=conn).job_ids
    assert count(session_factory, Person, institution_id) == 3  # nothing imported by the request


def test_a_large_import_runs_in_the_worker_and_its_page_follows_it(
    app, session_factory, settings, institution_id, launcher, client, limits, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    roster(session_factory, institution_id)
    tabular.configure(Limits(inline_bytes=4096))
    qc = launcher.launch(QC_USER)
    response = upload_large(client, qc, "/directory/people/import", "people.csv", _people(3000))
    assert response.status_code == 303
    page_url = response.headers["Location"]
    waiting = client.get(page_url)
    assert waiting.status_code == 200
    text = html.unescape(waiting.get_data(as_text=True))
    assert "正在后台导入" in text and 'role="progressbar"' in text and "3000 行" in text
    status = client.get(_status_url(page_url)).get_json()
    assert status["status"] == "pending" and status["done"] is False
    assert count(session_factory, Person, institution_id) == 3

    # The job reports how far it read; the page and its JSON show it while the run is running.
    with session_factory.begin() as s:
        started = s.scalars(select(ImportRun)).one()
        started.status, run_id = "running", started.id  # (ids go on across tests on PostgreSQL)
    conn.set(progress_key(run_id), json.dumps({"percent": 45, "rows": 2000}))
    status = client.get(_status_url(page_url)).get_json()
    assert (status["progress"], status["rows_read"]) == (45, 2000)
    with session_factory.begin() as s:
        s.scalars(select(ImportRun)).one().status = "pending"

    output = finish(start_burst_worker(settings, tmp_path, "default"))
    assert f"Job OK ({job_id_of(run_id)})" in output, output[-3000:]
    assert count(session_factory, Person, institution_id) == 3003
    with session_factory() as s:
        run = s.scalars(select(ImportRun)).one()
        assert (run.status, run.progress, file_of(s, run)) == ("succeeded", 100, b"")
        assert run.result == {"created": 3000, "updated": 0, "unchanged": 0, "removed": 0}
    done = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "导入完成：新增 3000，更新 0，未变 0" in done and "返回人员列表" in done
    assert client.get(_status_url(page_url)).get_json()["done"] is True

    # Someone who may not import people cannot watch the run either.
    teacher = launcher.launch(TEACHER)
    assert client.get(page_url.split("?")[0] + f"?s={teacher.token}").status_code == 403


def test_a_refused_large_import_stores_nothing_and_lists_its_rows(
    app, session_factory, settings, institution_id, launcher, client, limits, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    conn = redis_for(settings)
    roster(session_factory, institution_id)
    tabular.configure(Limits(inline_bytes=4096))
    qc = launcher.launch(QC_USER)
    response = upload_large(client, qc, "/directory/people/import", "people.csv", _people(3000, bad_row=2500))
    assert response.status_code == 303
    with session_factory() as s:
        run_id = s.scalars(select(ImportRun.id)).one()  # (ids go on across tests on PostgreSQL)
    assert Queue("default", connection=conn).job_ids == [job_id_of(run_id)]
    output = finish(start_burst_worker(settings, tmp_path, "default"))
    assert f"Job OK ({job_id_of(run_id)})" in output, output[-3000:]
    assert count(session_factory, Person, institution_id) == 3
    with session_factory() as s:
        run = s.scalars(select(ImportRun)).one()
        assert run.status == "failed" and file_of(s, run) == b""
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "未导入任何数据" in page
    assert "(row 2502, column 邮箱)" in page


def _status_url(page_url: str) -> str:
    """The run page's status URL, whether or not its address carries a query (the session cookie)."""
    path, _, query = page_url.partition("?")
    return f"{path}/status" + (f"?{query}" if query else "")
