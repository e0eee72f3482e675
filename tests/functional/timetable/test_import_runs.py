"""A large timetable goes through an import run and keeps its preview (issue 13 §5, issue 11 §2): the job
works out what the file would change, the run's page shows that preview with its confirmation, and the
confirmed import is stored by a second job — exactly what the preview showed, or nothing.

The jobs run in-process (``worker.jobs.run_import`` on the test database, ``worker_db``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from lti_tool import tabular
from lti_tool.import_runs.models import ImportRun
from lti_tool.import_runs.services import file_of
from lti_tool.tabular import Limits
from lti_tool.timetable.models import ClassSession
from tests.functional.timetable.test_import import HEADER_EN, csrf_of, csv_bytes, qc_launch, setup_semester
from tests.functional.timetable.test_safe_import import COLLEGE, ONE_ROW, counts, preview, summary
from tests.support.redis import redis_for
from worker.jobs import run_import


@pytest.fixture
def small_inline(app, worker_db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = tabular.limits()
    tabular.configure(Limits(inline_bytes=64))
    yield
    tabular.configure(before)


def _run(session_factory) -> ImportRun:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return s.scalars(select(ImportRun)).one()


def _confirm(client, qc, page_url: str, page: str, **extra: str):  # type: ignore[no-untyped-def]
    action = re.search(r'<form method="post" action="([^"]+)" id="confirm-import"', page)
    assert action, "the preview has no confirmation form"
    return client.post(
        html.unescape(action.group(1)) + ("&" if "?" in action.group(1) else "?") + f"s={qc.token}",
        data={"csrf": csrf_of(page), **extra},
    )


def test_the_job_previews_the_page_confirms_and_the_job_stores_it(
    roster, launcher, client, session_factory, settings, small_inline, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    setup_semester(session_factory, roster, COLLEGE)
    before = counts(session_factory)
    qc = qc_launch(launcher)

    response = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW]))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    page_url = response.headers["Location"]
    waiting = html.unescape(client.get(page_url).get_data(as_text=True))
    assert 'role="progressbar"' in waiting and "导入课表" in waiting
    run = _run(session_factory)
    assert (run.stage, run.status, run.options) == ("preview", "pending", {"replace": False})

    run_import(run.id)
    assert counts(session_factory) == before  # the preview stored nothing
    page = client.get(page_url).get_data(as_text=True)
    numbers = summary(page)
    assert numbers["sections-removed"] == 0 and numbers["sections-changed"] == 1
    assert numbers["sessions-changed"] == 15
    assert "文件未列出的课程的 119 个教学班保持不变" in page
    with session_factory() as s:
        assert file_of(s, s.get(ImportRun, run.id)) != b""  # kept for the confirmation

    confirmed = _confirm(client, qc, page_url, page)
    assert confirmed.status_code == 303
    run = _run(session_factory)
    assert (run.stage, run.status) == ("apply", "pending")
    assert counts(session_factory) == before
    run_import(run.id)
    assert counts(session_factory) == before
    with session_factory() as s:
        rooms = {cs.room for cs in s.scalars(select(ClassSession)) if cs.section.course.code == "G000"}
        assert rooms == {"A999"}
        assert file_of(s, s.get(ImportRun, run.id)) == b""
    done = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "导入完成：新增 0，更新 1" in done and "返回导入页面" in done

    again = _confirm(client, qc, page_url, page)  # the same preview twice: refused, nothing twice
    assert again.status_code in (404, 409)


def test_a_replace_needs_its_box_ticked_and_a_changed_timetable_stores_nothing(
    roster, launcher, client, session_factory, settings, small_inline, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    setup_semester(session_factory, roster, COLLEGE)
    before = counts(session_factory)
    qc = qc_launch(launcher)
    response = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW]), mode="replace")
    page_url = response.headers["Location"]
    run_import(_run(session_factory).id)
    page = client.get(page_url).get_data(as_text=True)
    assert summary(page)["sections-removed"] == 119 and 'name="confirm_replace"' in page

    refused = _confirm(client, qc, page_url, page)
    assert refused.status_code == 422
    assert 'id="import-error"' in refused.get_data(as_text=True)
    assert _run(session_factory).stage == "preview"

    with session_factory.begin() as s:  # someone edits the timetable between the preview and the confirmation
        s.execute(update(ClassSession).where(ClassSession.room == "B005").values(room="Z1"))
    assert _confirm(client, qc, page_url, page, confirm_replace="1").status_code == 303
    run_import(_run(session_factory).id)
    assert counts(session_factory) == before  # nothing removed
    failed = html.unescape(client.get(page_url).get_data(as_text=True))
    assert _run(session_factory).status == "failed"
    assert "未导入任何数据" in failed and "预览" in failed


def test_a_bad_large_timetable_lists_its_rows_and_columns_on_the_run_page(
    roster, launcher, client, session_factory, settings, small_inline, worker_db
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    setup_semester(session_factory, roster)
    qc = qc_launch(launcher)
    bad = [*COLLEGE[0][:8], "9", *COLLEGE[0][9:]]  # weekday 9
    response = preview(client, qc, csv_bytes([HEADER_EN, *COLLEGE[:5], bad]))
    run_import(_run(session_factory).id)
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "未导入任何数据" in page and "第 7 行" in page and "weekday" in page
    assert counts(session_factory) == (0, 0)
