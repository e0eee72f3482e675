"""Semester archiving (O-14, issue 5 §5–6): archive → edit refused → reopen → edit allowed → re-close,
with both archive versions kept."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.archive.services import ArchiveService
from lti_tool.errors import Conflict, ValidationFailed
from lti_tool.observations.models import Observation
from lti_tool.observations.services import ObservationService
from lti_tool.policy.schema import default_policy
from lti_tool.reports.models import ReportRun
from lti_tool.timetable.models import Semester, SemesterEvent
from tests.support import factories as f
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser


def _world(s, institution_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    today = clock.today()
    monday = today - dt.timedelta(days=today.weekday() + 7 * 3)
    sem = f.semester(s, institution_id, "S-ARCH", week1_monday=monday, weeks=16)
    qc_unit = f.unit(
        s, institution_id, "教学质量监控与评价中心", kind="department", function="quality_center"
    )
    qc = f.person(s, institution_id, "质量中心", employee_no="QC1", unit=qc_unit)
    leader = f.person(s, institution_id, "校领导", employee_no="L1", positions=["school_leader"])
    teacher = f.person(s, institution_id, "教师", employee_no="T1")
    sec = f.section(s, sem, f.course(s, institution_id, "高等数学"), [teacher])
    sess = f.class_session(s, sec, monday + dt.timedelta(days=7))
    f.class_session(s, sec, monday + dt.timedelta(days=7 * 15))  # the last teaching day, in week 16
    draft = ObservationService(s, institution_id, default_policy()).start(leader.id, sess.id)
    return {"semester": sem.id, "qc": qc.id, "leader": leader.id, "draft": draft.id}


def test_archive_edit_refused_reopen_edit_allowed_reclose_keeps_versions(session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        w = _world(s, institution_id)
    observations = lambda s: ObservationService(s, institution_id, default_policy())  # noqa: E731

    with session_factory.begin() as s:
        first = ArchiveService(s, institution_id).close(w["semester"], w["qc"], "期末归档", confirm="S-ARCH")
        assert [(r.kind, r.frozen, r.version) for r in first] == [
            ("statistics", True, 1),
            ("execution_report", True, 1),
        ]
    with session_factory() as s:
        service = observations(s)
        draft = s.get(Observation, w["draft"])
        with pytest.raises(Conflict):
            service.autosave(draft, w["leader"], {"narrative": "归档后修改"}, draft.draft_version)
        s.rollback()
    with session_factory.begin() as s, pytest.raises(ValidationFailed):
        ArchiveService(s, institution_id).reopen(w["semester"], w["qc"], "")
    with session_factory.begin() as s:
        ArchiveService(s, institution_id).reopen(w["semester"], w["qc"], "补录两份纸质听课记录")
    with session_factory.begin() as s:
        draft = s.get(Observation, w["draft"])
        observations(s).autosave(draft, w["leader"], {"narrative": "重新开放后补充"}, draft.draft_version)
    with session_factory.begin() as s:
        second = ArchiveService(s, institution_id).close(w["semester"], w["qc"], confirm="S-ARCH")
        assert {r.version for r in second} == {2}
        with pytest.raises(Conflict):
            ArchiveService(s, institution_id).close(w["semester"], w["qc"], confirm="S-ARCH")
    with session_factory() as s:
        versions = ArchiveService(s, institution_id).versions(w["semester"])
        assert [v.version for v in versions] == [2, 1]
        assert all(len(v.runs) == 2 and all(r.frozen for r in v.runs) for v in versions)
        events = s.scalars(select(SemesterEvent).order_by(SemesterEvent.id)).all()
        assert [(e.action, e.version) for e in events] == [("close", 1), ("reopen", 0), ("close", 2)]
        assert events[1].reason == "补录两份纸质听课记录" and events[1].person_id == w["qc"]
        assert s.get(Semester, w["semester"]).status == "archived"
        assert s.scalars(select(Observation)).one().narrative == "重新开放后补充"


def test_archive_page_close_and_reopen(session_factory, institution_id, launcher, client, monkeypatch):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        w = _world(s, institution_id)
    queued: list[int] = []
    monkeypatch.setattr(
        "lti_tool.reports.services.enqueue_run", lambda run_id, _conn, **_: queued.append(run_id) or "job"
    )
    qc = launcher.launch(LmsUser("qc", "质量中心", "", "QC1", [ROLE_INSTRUCTOR]))
    page = qc.get(client, "/archive/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    closed = client.post(
        f"/archive/{w['semester']}/close?s={qc.token}", data={"csrf": csrf, "confirm": "S-ARCH"}
    )
    assert closed.status_code == 303
    assert len(queued) == 2  # the frozen statistics and report were queued after the commit
    # Reopening without a reason is refused and changes nothing.
    assert (
        client.post(
            f"/archive/{w['semester']}/reopen?s={qc.token}", data={"csrf": csrf, "reason": ""}
        ).status_code
        == 422
    )
    with session_factory() as s:
        assert s.get(Semester, w["semester"]).status == "archived"
    assert (
        client.post(
            f"/archive/{w['semester']}/reopen?s={qc.token}", data={"csrf": csrf, "reason": "更正一条记录"}
        ).status_code
        == 303
    )
    html = qc.get(client, "/archive/").get_data(as_text=True)
    assert "更正一条记录" in html
    # A leader may not close or reopen.
    leader = launcher.launch(LmsUser("l1", "校领导", "", "L1", [ROLE_INSTRUCTOR]))
    leader_csrf = re.search(
        r'data-csrf="([^"]+)"',  # type: ignore[union-attr]
        leader.get(client, "/home").get_data(as_text=True),
    ).group(1)
    assert (
        client.post(
            f"/archive/{w['semester']}/close?s={leader.token}", data={"csrf": leader_csrf}
        ).status_code
        == 403
    )
    with session_factory() as s:
        assert len(s.scalars(select(ReportRun)).all()) == 2


def test_closing_while_redis_is_down_answers_503_and_the_reconciler_queues_the_runs(  # type: ignore[no-untyped-def]
    session_factory, institution_id, launcher, client, app, settings
):
    """Issue 13 §4: the semester is closed and its frozen runs kept; the page says the queue is away; the
    worker's reconciler queues both runs once Redis answers (closing uses the reports' path)."""
    from redis import Redis

    from lti_tool.reports.fairqueue import is_waiting
    from tests.support.redis import redis_for
    from worker import jobs

    jobs.configure(settings)
    with session_factory.begin() as s:
        w = _world(s, institution_id)
    qc = launcher.launch(LmsUser("qc", "质量中心", "", "QC1", [ROLE_INSTRUCTOR]))
    page = qc.get(client, "/archive/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    t = app.extensions["tingke"]
    saved, t.redis = t.redis, Redis.from_url("redis://127.0.0.1:1/15")  # nothing listens: refused at once
    try:
        closed = client.post(
            f"/archive/{w['semester']}/close?s={qc.token}", data={"csrf": csrf, "confirm": "S-ARCH"}
        )
    finally:
        t.redis.close()
        t.redis = saved
    assert closed.status_code == 503, closed.get_data(as_text=True)[:1000]
    assert "任务队列暂时无法连接" in closed.get_data(as_text=True)
    with session_factory() as s:
        assert s.get(Semester, w["semester"]).status == "archived"
        runs = s.scalars(select(ReportRun)).all()
        assert len(runs) == 2 and all(r.status == "pending" and not r.job_id and r.frozen for r in runs)
    conn = redis_for(settings)
    try:
        assert jobs.requeue_orphans(conn) == 2
        with session_factory() as s:
            for run in s.scalars(select(ReportRun)):
                assert run.job_id and (
                    conn.exists(f"rq:job:{run.job_id}") or is_waiting(conn, institution_id, run.id)
                )
    finally:
        conn.flushdb()
        conn.close()


def test_frozen_versions_stay_downloadable_unchanged(session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    """The worker builds each archive version's statistics and report; re-closing never replaces v1."""
    from worker import jobs

    jobs.configure(settings)
    with session_factory.begin() as s:
        w = _world(s, institution_id)
        runs = ArchiveService(s, institution_id).close(w["semester"], w["qc"], confirm="S-ARCH")
        first_ids = [r.id for r in runs]
    for run_id in first_ids:
        jobs.run_report(run_id)
    with session_factory() as s:
        first = {r.kind: (r.status, r.filename, r.content) for r in (s.get(ReportRun, i) for i in first_ids)}
    assert first["execution_report"][0] == "succeeded" and first["execution_report"][1].endswith("第1版.pdf")
    assert first["statistics"][0] == "succeeded"
    with session_factory.begin() as s:
        ArchiveService(s, institution_id).reopen(w["semester"], w["qc"], "补录一份听课记录")
        second_ids = [
            r.id for r in ArchiveService(s, institution_id).close(w["semester"], w["qc"], confirm="S-ARCH")
        ]
    for run_id in second_ids:
        jobs.run_report(run_id)
    with session_factory() as s:
        again = {r.kind: (r.status, r.filename, r.content) for r in (s.get(ReportRun, i) for i in first_ids)}
        second = {r.kind: (r.status, r.filename) for r in (s.get(ReportRun, i) for i in second_ids)}
        from lti_tool.reports.models import StatisticsSnapshot

        frozen = s.scalars(select(StatisticsSnapshot).where(StatisticsSnapshot.frozen.is_(True))).all()
    assert again == first  # version 1 is byte-for-byte what it was
    assert second["execution_report"] == ("succeeded", first["execution_report"][1].replace("第1版", "第2版"))
    assert len(frozen) == 2


# -- closing is deliberate (issue 11 §3) ----------------------------------------------------------------
def test_closing_a_running_semester_warns_lists_drafts_and_needs_its_code(
    session_factory, institution_id, launcher, client, monkeypatch
):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        w = _world(s, institution_id)  # week 4 of 16, one draft
    queued: list[int] = []
    monkeypatch.setattr(
        "lti_tool.reports.services.enqueue_run", lambda run_id, _conn, **_: queued.append(run_id) or "job"
    )
    qc = launcher.launch(LmsUser("qc", "质量中心", "", "QC1", [ROLE_INSTRUCTOR]))
    index = qc.get(client, "/archive/").get_data(as_text=True)
    assert (
        f"/archive/{w['semester']}/close" in index
        and 'method="post" action="/archive/' not in index.split("close")[0]
    )
    page = qc.get(client, f"/archive/{w['semester']}/close")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="early"' in text and "校领导" in text and "高等数学" in text  # the warning and the open draft
    assert 'name="confirm"' in text and 'href="/archive/' in text  # the confirmation and a way back
    csrf = re.search(r'name="csrf" value="([^"]+)"', text).group(1)  # type: ignore[union-attr]
    for typed in ("", "yes", "s-arch"):
        refused = client.post(
            f"/archive/{w['semester']}/close?s={qc.token}", data={"csrf": csrf, "confirm": typed}
        )
        assert refused.status_code == 422
        assert "S-ARCH" in refused.get_data(as_text=True) and 'id="drafts"' in refused.get_data(as_text=True)
    with session_factory() as s:
        assert s.get(Semester, w["semester"]).status == "open" and queued == []
    done = client.post(
        f"/archive/{w['semester']}/close?s={qc.token}", data={"csrf": csrf, "confirm": "S-ARCH"}
    )
    assert done.status_code == 303 and len(queued) == 2


def test_a_finished_semester_without_drafts_closes_without_typing(session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        w = _world(s, institution_id)
        s.delete(s.get(Observation, w["draft"]))
    with session_factory.begin() as s:
        service = ArchiveService(s, institution_id)
        sem = s.get(Semester, w["semester"])
        after = sem.end_date + dt.timedelta(days=1)
        preview = service.preview(w["semester"], after)
        assert not preview.early and not preview.drafts and not preview.needs_code
        assert len(service.close(w["semester"], w["qc"], today=after)) == 2


def test_a_leader_opening_a_draft_of_a_closed_semester_is_told_what_happened(
    session_factory, institution_id, launcher, client
):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        w = _world(s, institution_id)
        ArchiveService(s, institution_id).close(w["semester"], w["qc"], confirm="S-ARCH")
    leader = launcher.launch(LmsUser("l1", "校领导", "", "L1", [ROLE_INSTRUCTOR]))
    edit = leader.get(client, f"/observations/{w['draft']}/edit")
    assert edit.status_code == 303  # the form is gone: the record page explains
    page = leader.get(client, f"/observations/{w['draft']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="locked"' in text and "S-ARCH" in text
    csrf = re.search(r'name="csrf" value="([^"]+)"|data-csrf="([^"]+)"', text)
    token = next(g for g in csrf.groups() if g)  # type: ignore[union-attr]
    old_tab = client.post(
        f"/observations/{w['draft']}/edit?s={leader.token}",
        data={"csrf": token, "narrative": "x", "draft_version": 0},
    )
    assert old_tab.status_code == 303
    assert old_tab.headers["Location"].split("?")[0].endswith(f"/observations/{w['draft']}")
    autosave = client.post(
        f"/observations/{w['draft']}/autosave",
        json={"draft_version": 0, "fields": {"narrative": "x"}},
        headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": token},
    )
    assert autosave.status_code == 409 and f"/observations/{w['draft']}" in autosave.get_json()["redirect"]


def test_a_co_observer_who_may_not_change_a_locked_record_gets_403_not_its_state(
    session_factory, institution_id, launcher, client
):  # type: ignore[no-untyped-def]
    """Authorization before state (issue 13 §7): a co-observer may read the record but not change it, so
    a change is refused as not theirs (403), never as locked (409 or the locked page)."""
    with session_factory.begin() as s:
        w = _world(s, institution_id)
        f.person(s, institution_id, "副校长", employee_no="L2", positions=["school_leader"])
        draft = s.get(Observation, w["draft"])
        ObservationService(s, institution_id, default_policy()).add_member(draft, w["leader"], "L2")
        ArchiveService(s, institution_id).close(w["semester"], w["qc"], confirm="S-ARCH")
    co = launcher.launch(LmsUser("l2", "副校长", "", "L2", [ROLE_INSTRUCTOR]))
    page = co.get(client, f"/observations/{w['draft']}")
    assert page.status_code == 200  # a member reads it
    csrf = re.search(r'data-csrf="([^"]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    headers = {"X-Tingke-Session": co.token, "X-CSRF-Token": csrf}
    body = {"draft_version": 0, "fields": {"narrative": "x"}}
    assert client.post(f"/observations/{w['draft']}/autosave", json=body, headers=headers).status_code == 403
    form = client.post(
        f"/observations/{w['draft']}/edit?s={co.token}",
        data={"csrf": csrf, "narrative": "x", "draft_version": 0},
    )
    assert form.status_code == 403
