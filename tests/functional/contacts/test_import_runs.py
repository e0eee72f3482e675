"""Contact points beyond the inline size go through an import run and keep their preview (issue 13 §5):
the job previews, the run's page lists what the import would do with its confirmation, a second job
stores it; a bad file's run lists every row and column and stores nothing.

The jobs run in-process (``worker.jobs.run_import`` on the test database, ``worker_db``).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from lti_tool import tabular
from lti_tool.contacts.models import ContactPoint
from lti_tool.import_runs.models import ImportRun
from lti_tool.import_runs.services import file_of
from lti_tool.tabular import Limits
from tests.functional.contacts import test_pages
from tests.functional.contacts.test_pages import _csrf, _launch
from tests.support.redis import redis_for
from worker.jobs import run_import

college = test_pages.college  # the page tests' college, a fixture here too


@pytest.fixture
def small_inline(app, worker_db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = tabular.limits()
    tabular.configure(Limits(inline_bytes=64))
    yield
    tabular.configure(before)


def _points(session_factory, person_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return sorted(s.scalars(select(ContactPoint.kind).where(ContactPoint.person_id == person_id)))


def _run(session_factory) -> ImportRun:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return s.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()  # type: ignore[return-value]


def _upload(client, office, csrf: str, text: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/contacts/office/points/import?s={office.token}",
        data={"csrf": csrf, "file": (io.BytesIO(text.encode()), "points.csv")},
        content_type="multipart/form-data",
    )


def test_a_large_contact_point_file_is_previewed_and_stored_by_jobs(
    college, launcher, client, session_factory, settings, small_inline
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    office = _launch(launcher, "300002", "孙干事")
    page = office.get(client, f"/contacts/office/points?year={college['year']}").get_data(as_text=True)
    csrf = _csrf(page)
    before = _points(session_factory, college["dean"])
    year = college["year"]
    response = _upload(
        client,
        office,
        csrf,
        f"工号,学年,类型,对象\n110001,{year},教研室,QC-JY1\n110001,{year},党支部,QC-DZB1\n",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    page_url = response.headers["Location"]
    assert "/imports/" in page_url and "导入联系点" in html.unescape(
        client.get(page_url).get_data(as_text=True)
    )
    run_import(_run(session_factory).id)
    assert _points(session_factory, college["dean"]) == before  # the preview stored nothing

    preview = html.unescape(client.get(page_url).get_data(as_text=True))
    assert 'id="points-preview"' in preview and "预览" in preview
    assert "QC-DZB1" in preview or "党支部" in preview
    action = re.search(r'action="([^"]+)" class="actions" id="confirm-import"', preview)
    assert action
    confirmed = client.post(
        action.group(1) + ("&" if "?" in action.group(1) else "?") + f"s={office.token}",
        data={"csrf": csrf, "confirm": "yes"},
    )
    assert confirmed.status_code == 303
    run_import(_run(session_factory).id)
    assert _points(session_factory, college["dean"]) == ["party_branch", "teaching_office"]
    done = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "导入完成" in done and 'href="/contacts/office/points' in done
    with session_factory() as s:
        assert file_of(s, s.scalars(select(ImportRun)).one()) == b""


def test_a_bad_large_contact_point_file_lists_rows_and_columns_and_stores_nothing(
    college, launcher, client, session_factory, settings, small_inline
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    office = _launch(launcher, "300002", "孙干事")
    csrf = _csrf(office.get(client, "/contacts/office/points").get_data(as_text=True))
    year = college["year"]
    with session_factory() as s:
        before = s.scalar(select(func.count()).select_from(ContactPoint))
    response = _upload(
        client,
        office,
        csrf,
        f"工号,学年,类型,对象\n110001,{year},教研室,QC-JY1\n110001,{year},班级,汽车2301\n",
    )
    assert response.status_code == 303
    run_import(_run(session_factory).id)
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "未导入任何数据" in page and "(row 3, column 对象)" in page
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ContactPoint)) == before
    assert _run(session_factory).status == "failed"
