"""The school office's imports beyond the inline size go through import runs and keep their preview
(issue 13 §5): the job previews, the run's page shows the preview with its confirmation, a second job
stores it; a bad file's run lists its rows and columns and stores nothing.

The jobs run in-process (``worker.jobs.run_import`` on the test database, ``worker_db``).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from lti_tool import tabular
from lti_tool.import_runs.models import ImportRun
from lti_tool.outreach.models import Portfolio, ReceptionDuty
from lti_tool.tabular import Limits
from tests.functional.outreach import test_pages
from tests.functional.outreach.test_pages import OFFICE, _csrf, _year
from tests.support.redis import redis_for
from worker.jobs import run_import

college = test_pages.college  # the page tests' college, a fixture here too


@pytest.fixture
def small_inline(app, worker_db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = tabular.limits()
    tabular.configure(Limits(inline_bytes=16))
    yield
    tabular.configure(before)


def _latest(session_factory) -> ImportRun:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return s.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()  # type: ignore[return-value]


def _confirm(client, office, csrf: str, preview: str):  # type: ignore[no-untyped-def]
    action = re.search(r'action="([^"]+)" class="actions" id="confirm-import"', preview)
    assert action, "the preview has no confirmation form"
    url = html.unescape(action.group(1))
    return client.post(
        url + ("&" if "?" in url else "?") + f"s={office.token}", data={"csrf": csrf, "confirm": "yes"}
    )


def test_a_large_reception_roster_is_previewed_and_stored_by_jobs(
    college, launcher, client, session_factory, settings, small_inline
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    office = launcher.launch(OFFICE)
    csrf = _csrf(office, client)
    response = client.post(
        f"/outreach/office/reception/import?s={office.token}",
        data={
            "csrf": csrf,
            "semester": str(college["semester"]),
            "file": (io.BytesIO("周次,工号,地点\n8,L002,行政楼201\n9,L003,\n".encode()), "roster.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    page_url = response.headers["Location"]
    run = _latest(session_factory)
    assert (run.kind, run.stage, run.options) == (
        "reception_roster",
        "preview",
        {"semester": college["semester"]},
    )
    run_import(run.id)
    with session_factory() as s:
        assert s.scalars(select(ReceptionDuty)).first() is None  # the preview stored nothing
    preview = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "2026-2027-1" in preview and "行政楼201" in preview and "王副校长" in preview
    assert _confirm(client, office, csrf, preview).status_code == 303
    run_import(run.id)
    with session_factory() as s:
        weeks = {d.week: (d.person_id, d.place) for d in s.scalars(select(ReceptionDuty))}
    assert weeks == {8: (college["wang"], "行政楼201"), 9: (college["li"], "")}
    done = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "导入完成：新增 2" in done and "/outreach/office/reception" in done


def test_a_large_division_of_work_with_a_bad_row_stores_nothing(
    college, launcher, client, session_factory, settings, small_inline
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    office = launcher.launch(OFFICE)
    csrf = _csrf(office, client)
    year = _year(college)
    text = f"学年,分管领域,工号\n{year},logistics,L003\n{year},logistics-nope,L002\n"
    response = client.post(
        f"/outreach/office/division/import?s={office.token}",
        data={"csrf": csrf, "file": (io.BytesIO(text.encode()), "division.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    run_import(_latest(session_factory).id)
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "未导入任何数据" in page and "第 3 行" in page and "(row 3, column 分管领域)" in page
    with session_factory() as s:
        assert s.scalars(select(Portfolio)).first() is None

    good = f"学年,分管领域,工号\n{year},logistics,L003\n"
    response = client.post(
        f"/outreach/office/division/import?s={office.token}",
        data={"csrf": csrf, "file": (io.BytesIO(good.encode()), "division.csv")},
        content_type="multipart/form-data",
    )
    run_import(_latest(session_factory).id)
    preview = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "李副校长" in preview
    assert _confirm(client, office, csrf, preview).status_code == 303
    run_import(_latest(session_factory).id)
    with session_factory() as s:
        assert [(p.area, p.person_id) for p in s.scalars(select(Portfolio))] == [("logistics", college["li"])]
