"""The observation workflow end to end through real launches (issue 3 §4–8, O-11 … O-14).

Each person launches from the simulated LMS and then uses the pages as a browser would: the session
token travels in the URL or the ``X-Tingke-Session`` header and POSTs carry the CSRF token (no cookie
is needed). The database is inspected only to check what was stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from lti_tool.db import utcnow
from lti_tool.observations.models import Observation, ObservationAudit, ObservationMember
from lti_tool.policy.schema import default_policy
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem
from lti_tool.timetable.models import Semester
from tests.support.cli import Run, cli_runner
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser
from tests.support.worlds import MONDAY_W1, ObservationWorld, complete_fields, observation_world

OBSERVER = LmsUser("u-l001", "王校长", "l001@jti.edu", "L001", [ROLE_LEARNER])
CO_OBSERVER = LmsUser("u-l002", "赵院长", "l002@jti.edu", "L002", [ROLE_LEARNER])
THIRD = LmsUser("u-l003", "钱书记", "l003@jti.edu", "L003", [ROLE_LEARNER])
TEACHER = LmsUser("u-t001", "李老师", "t001@jti.edu", "T001", [ROLE_INSTRUCTOR])
QC = LmsUser("u-q001", "孙主任", "q001@jti.edu", "Q001", [ROLE_INSTRUCTOR])


class Browser:
    """One launched person: GETs with the token in the URL, POSTs with the CSRF token."""

    def __init__(self, client, launch) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.token = launch.token
        home = launch.get(client, "/home")
        assert home.status_code == 200, home.get_data(as_text=True)
        self.csrf = re.search(r'data-csrf="([^"]+)"', home.get_data(as_text=True)).group(1)  # type: ignore[union-attr]

    def url(self, path: str) -> str:
        return f"{path}{'&' if '?' in path else '?'}s={self.token}"

    def get(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.get(self.url(path))

    def post(self, path: str, data: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(self.url(path), data={"csrf": self.csrf, **(data or {})})

    def post_json(self, path: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """As observations.js does: session and CSRF in headers, nothing in the URL or cookies."""
        headers = {"X-Tingke-Session": self.token, "X-CSRF-Token": self.csrf, "Accept": "application/json"}
        return self.client.post(path, json=body, headers=headers)


@pytest.fixture
def world(session_factory, institution_id) -> ObservationWorld:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return observation_world(s, institution_id)


@pytest.fixture
def as_user(launcher, client) -> Callable[[LmsUser], Browser]:  # type: ignore[no-untyped-def]
    return lambda user: Browser(client, launcher.launch(user))


def _start(browser: Browser, session_id: int) -> int:
    response = browser.post("/observations/start", {"session_id": session_id})
    assert response.status_code == 303, response.get_data(as_text=True)
    match = re.search(r"/observations/(\d+)/edit", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _save(browser: Browser, obs_id: int, fields: dict[str, Any], version: int):  # type: ignore[no-untyped-def]
    return browser.post_json(f"/observations/{obs_id}/autosave", {"draft_version": version, "fields": fields})


def _submitted(browser: Browser, world: ObservationWorld, **overrides: Any) -> int:
    obs_id = _start(browser, world.session_w1.id)
    saved = _save(browser, obs_id, complete_fields(default_policy(), **overrides), 0)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    version = saved.get_json()["draft_version"]
    done = browser.post_json(f"/observations/{obs_id}/submit", {"draft_version": version})
    assert done.status_code == 200, done.get_data(as_text=True)
    return obs_id


# -- the observer's record (O-11, O-13) ---------------------------------------------------------------
def test_start_autosave_submit_feedback_reply(world, as_user, session_factory):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    assert _start(observer, world.session_w1.id) == obs_id  # the same draft, never a second one
    page = observer.get(f"/observations/{obs_id}/edit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert all(part in text for part in ("高等数学", "李老师", "A101", "机电2401", "10:00"))
    assert all(d.label in text for d in default_policy().dimensions)
    assert "observations.js" in text and "<script>" not in text

    first = _save(observer, obs_id, {"narrative": "手机上写的新内容", "rating__methods": "good"}, 0)
    assert first.status_code == 200 and first.get_json()["draft_version"] == 1
    stale = _save(observer, obs_id, {"narrative": "旧标签页的内容"}, 0)
    assert stale.status_code == 409 and "error" in stale.get_json()
    reloaded = observer.get(f"/observations/{obs_id}/edit").get_data(as_text=True)
    assert "手机上写的新内容" in reloaded and "旧标签页的内容" not in reloaded
    assert re.search(r'name="rating__methods" value="good"\s+checked', reloaded)
    other_device = as_user(OBSERVER)  # a new launch: another device, or the tab was closed
    assert _start(other_device, world.session_w1.id) == obs_id
    assert "手机上写的新内容" in other_device.get(f"/observations/{obs_id}/edit").get_data(as_text=True)
    observer = other_device  # the relaunch ended the first session (test_session_transport.py)

    missing = observer.post_json(f"/observations/{obs_id}/submit", {"draft_version": 1})
    assert missing.status_code == 422
    fields = missing.get_json()["fields"]
    assert {
        "rating__moral_education",
        "arrival_time",
        "expected_count",
        "present_count",
        "exchange_teacher_done",
        "exchange_students_done",
    } <= set(fields)
    assert "narrative" not in fields and "rating__methods" not in fields

    complete = _save(observer, obs_id, complete_fields(default_policy(), arrival_time="10:07"), 1)
    assert complete.get_json()["arrived_late"] is True
    done = observer.post_json(f"/observations/{obs_id}/submit", {"draft_version": 2})
    assert done.status_code == 200 and done.get_json()["status"] == "submitted"
    with session_factory() as s:
        obs = s.get(Observation, obs_id)
        assert obs.status == "submitted" and obs.arrived_late and obs.present_count == 40

    teacher = as_user(TEACHER)
    listing = teacher.get("/observations/feedback").get_data(as_text=True)
    assert f"/observations/feedback/{obs_id}" in listing
    record = teacher.get(f"/observations/feedback/{obs_id}").get_data(as_text=True)
    assert "王校长" in record and "教师先复习上节内容" in record
    assert "10:07" not in record  # the observer's arrival is not the teacher's business
    assert teacher.post(f"/observations/feedback/{obs_id}/ack").status_code == 303
    replied = teacher.post(f"/observations/feedback/{obs_id}/reply", {"reply": "谢谢，会增加提问环节"})
    assert replied.status_code == 303
    assert f"/observations/feedback/{obs_id}" in teacher.get("/home").get_data(as_text=True)

    observer_again = as_user(OBSERVER)
    history = observer_again.get("/observations/").get_data(as_text=True)
    assert "谢谢，会增加提问环节" in history
    assert "谢谢，会增加提问环节" in observer_again.get("/home").get_data(as_text=True)
    assert "谢谢，会增加提问环节" in observer_again.get(f"/observations/{obs_id}").get_data(as_text=True)


def test_form_without_javascript_shows_missing_fields(world, as_user):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    response = observer.post(
        f"/observations/{obs_id}/edit", {"draft_version": "0", "narrative": "只写了过程", "action": "submit"}
    )
    assert response.status_code == 303 and "check=1" in response.headers["Location"]
    page = observer.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "只写了过程" in page  # what was typed is kept
    assert 'id="err-arrival_time" data-error-for="arrival_time">' in page
    assert re.search(r'id="err-arrival_time" data-error-for="arrival_time">[^<]+</p>', page)
    assert re.search(r'id="err-narrative" data-error-for="narrative"></p>', page)


def test_teacher_never_sees_drafts_nor_advance_notice(world, as_user):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    _save(observer, obs_id, {"narrative": "尚未提交的草稿"}, 0)
    teacher = as_user(TEACHER)
    for path in ("/home", "/observations/feedback"):
        page = teacher.get(path)
        assert page.status_code == 200
        assert "尚未提交的草稿" not in page.get_data(as_text=True)
        assert f"/observations/feedback/{obs_id}" not in page.get_data(as_text=True)
    assert teacher.get(f"/observations/feedback/{obs_id}").status_code == 404
    assert teacher.get(f"/observations/{obs_id}").status_code == 403  # observer pages are not the teacher's


def test_observer_names_hidden_when_policy_says_so(world, as_user, session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        store = PolicyStore(s, institution_id)
        store.upload(
            store.current().text.replace(
                "teachers_see_observer_names = true", "teachers_see_observer_names = false"
            ),
            None,
        )
    obs_id = _submitted(as_user(OBSERVER), world)
    page = as_user(TEACHER).get(f"/observations/feedback/{obs_id}").get_data(as_text=True)
    assert "教师先复习上节内容" in page and "王校长" not in page


# -- group observation (O-12) -------------------------------------------------------------------------
def test_group_observation_invite_cosign_and_own_record(world, as_user, session_factory):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    found = observer.get(f"/observations/{obs_id}/edit?find=赵").get_data(as_text=True)
    assert "赵院长" in found and "L002" in found
    people = observer.get("/observations/people?q=L00").get_json()["people"]
    assert [p["employee_no"] for p in people] == ["L002", "L003"]  # the searcher is left out
    assert observer.post(f"/observations/{obs_id}/members", {"person": "L002"}).status_code == 303
    by_id = observer.post(f"/observations/{obs_id}/members", {"person": str(world.third_observer.id)})
    assert by_id.status_code == 303
    assert observer.post(f"/observations/{obs_id}/members", {"person": "L002"}).status_code == 409

    co = as_user(CO_OBSERVER)
    assert f"/observations/{obs_id}" in co.get("/observations/").get_data(as_text=True)
    assert co.get(f"/observations/{obs_id}").status_code == 200
    assert co.post(f"/observations/{obs_id}/cosign").status_code == 409  # not submitted yet
    assert co.get(f"/observations/{obs_id}/edit").status_code == 303  # only the author edits

    saved = _save(observer, obs_id, complete_fields(default_policy()), 0)
    assert (
        observer.post_json(
            f"/observations/{obs_id}/submit", {"draft_version": saved.get_json()["draft_version"]}
        ).status_code
        == 200
    )
    assert co.post(f"/observations/{obs_id}/cosign").status_code == 303

    third = as_user(THIRD)
    own = third.post(f"/observations/{obs_id}/own")
    assert own.status_code == 303
    own_id = int(re.search(r"/observations/(\d+)/edit", own.headers["Location"]).group(1))  # type: ignore[union-attr]
    assert own_id != obs_id
    with session_factory() as s:
        members = {
            (m.observation_id, m.person_id): (m.role, m.status, m.session_id)
            for m in s.scalars(select(ObservationMember))
        }
    assert members == {
        (obs_id, world.observer.id): ("author", "signed", world.session_w1.id),
        (obs_id, world.co_observer.id): ("co_observer", "signed", world.session_w1.id),
        (obs_id, world.third_observer.id): ("co_observer", "own_record", world.session_w1.id),
    }
    assert third.get(f"/observations/{own_id}/edit").status_code == 200


# -- corrections and locking (O-13, O-14) -------------------------------------------------------------
def test_correction_within_window_audited_then_refused(world, as_user, session_factory):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _submitted(observer, world)
    with session_factory() as s:
        version = s.get(Observation, obs_id).draft_version
    assert observer.get(f"/observations/{obs_id}/edit").status_code == 200
    fixed = _save(observer, obs_id, {"suggestions": "建议增加小组讨论"}, version)
    assert fixed.status_code == 200
    emptied = _save(observer, obs_id, {"narrative": ""}, fixed.get_json()["draft_version"])
    assert emptied.status_code == 422 and "narrative" in emptied.get_json()["fields"]
    view = observer.get(f"/observations/{obs_id}").get_data(as_text=True)
    assert "建议增加小组讨论" in view and "增加课堂提问" in view  # after and before, in the audit trail
    with session_factory.begin() as s:
        trail = s.scalars(select(ObservationAudit)).all()
        assert [(a.field, a.before, a.after, a.person_id) for a in trail] == [
            ("suggestions", "增加课堂提问", "建议增加小组讨论", world.observer.id)
        ]
        obs = s.get(Observation, obs_id)
        obs.submitted_at = utcnow() - dt.timedelta(days=8)
        version = obs.draft_version
    late = _save(observer, obs_id, {"suggestions": "太晚了"}, version)
    assert late.status_code == 409
    assert observer.get(f"/observations/{obs_id}/edit").status_code == 303  # read-only now


def test_archived_semester_locks_records(world, as_user, session_factory):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    draft_id = _start(observer, world.session_w1.id)
    with session_factory.begin() as s:
        s.get(Semester, world.semester.id).status = "archived"
    response = _save(observer, draft_id, {"narrative": "归档之后"}, 0)
    assert response.status_code == 409 and response.get_json()["error"]
    assert observer.post("/observations/start", {"session_id": world.session_w3.id}).status_code == 409
    with session_factory() as s:
        assert s.get(Observation, draft_id).narrative == ""


# -- problems -----------------------------------------------------------------------------------------
def test_problems_are_stored_as_new(world, as_user, session_factory):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    bad = observer.post(
        f"/observations/{obs_id}/problems", {"category": "weather", "unit_id": "", "description": ""}
    )
    assert bad.status_code == 422
    ok = observer.post(
        f"/observations/{obs_id}/problems",
        {
            "category": "facilities",
            "unit_id": str(world.logistics.id),
            "room": "A101",
            "description": "投影仪不亮",
        },
    )
    assert ok.status_code == 303
    with session_factory() as s:
        problems = s.scalars(select(Problem)).all()
        assert [(p.category, p.unit_id, p.status, p.observation_id, len(p.events)) for p in problems] == [
            ("facilities", world.logistics.id, "new", obs_id, 1)
        ]
    assert "投影仪不亮" in observer.get(f"/observations/{obs_id}/edit").get_data(as_text=True)


# -- quality center -----------------------------------------------------------------------------------
def test_qc_list_detail_and_exports_are_formula_safe(world, as_user):  # type: ignore[no-untyped-def]
    evil = '=HYPERLINK("http://evil.example/steal","点我")'
    obs_id = _submitted(as_user(OBSERVER), world, narrative=evil, strengths="-1+2", suggestions="@SUM(A1)")
    qc = as_user(QC)
    listing = qc.get("/observations/all").get_data(as_text=True)
    assert f"/observations/all/{obs_id}" in listing and "高等数学" in listing
    assert qc.get("/observations/all?status=draft").get_data(as_text=True).count("/observations/all/") == 0
    detail = qc.get(f"/observations/all/{obs_id}")
    assert detail.status_code == 200 and "HYPERLINK" in detail.get_data(as_text=True)
    assert "/observations/export.csv" in qc.get("/home").get_data(as_text=True)

    exported = qc.get("/observations/export.csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    record = dict(zip(header, row, strict=True))
    assert record["教学过程记录"] == "'" + evil
    assert record["优点"] == "'-1+2" and record["意见建议"] == "'@SUM(A1)"
    assert record["听课人工号"] == "L001" and record["状态"] == "已提交" and record["教学态度"] == "优"
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)

    workbook = openpyxl.load_workbook(io.BytesIO(qc.get("/observations/export.xlsx").get_data()))
    sheet = workbook.active
    cells = {h.value: c for h, c in zip(sheet[1], sheet[2], strict=True)}
    assert cells["教学过程记录"].data_type == "s" and cells["教学过程记录"].value == "'" + evil
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert qc.get("/observations/export.pdf").status_code == 400


def test_tenancy_other_institutions_record_is_404(world, as_user, session_factory):  # type: ignore[no-untyped-def]
    from tests.conftest import make_institution

    other_id = make_institution(session_factory, code="OTHER", name="别的学院")
    with session_factory.begin() as s:
        other = observation_world(s, other_id)
        foreign = Observation(
            institution_id=other_id,
            session_id=other.session_w1.id,
            semester_id=other.semester.id,
            author_id=other.observer.id,
            status="submitted",
            submitted_at=utcnow(),
            narrative="别校的记录",
            extra={},
        )
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    observer = as_user(OBSERVER)
    assert observer.get(f"/observations/{foreign_id}").status_code == 404
    assert observer.get(f"/observations/{foreign_id}/edit").status_code == 404
    assert _save(observer, foreign_id, {"narrative": "x"}, 0).status_code == 404
    assert observer.post("/observations/start", {"session_id": other.session_w1.id}).status_code == 404
    assert as_user(TEACHER).get(f"/observations/feedback/{foreign_id}").status_code == 404
    qc = as_user(QC)
    assert qc.get(f"/observations/all/{foreign_id}").status_code == 404
    assert "别校的记录" not in qc.get("/observations/export.csv").get_data().decode("utf-8-sig")


# -- import (tingke import observations) --------------------------------------------------------------


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return cli_runner(monkeypatch, database_url, tmp_path / "instance")


def _import_csv(tmp_path: Path, rows: list[str], header: str | None = None) -> str:
    policy = default_policy()
    header = header or (
        "听课人工号,课程代码,教师工号,日期,节次,状态,教学督导,到达时间,应到人数,实到人数,"
        + ",".join(d.label for d in policy.dimensions)
        + ",教学过程记录,课后与教师交流,与教师交流内容,课后与学生交流"
    )
    path = tmp_path / "records.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


GOOD = "L001;L002,MATH1,T001,2026-09-07,3-4,submitted,no,09:55,40,38,优,优,良,良,优,良,纸质记录,是,交流了,否"


def test_import_observations_refuses_bad_rows_by_row_and_column(world, run, tmp_path, session_factory):  # type: ignore[no-untyped-def]
    rows = [
        GOOD,
        # a holiday, then an even week of an odd-week class
        "L001,MATH1,T001,2026-10-05,3-4,submitted,no,09:55,40,38,优,优,良,良,优,良,假期,是,交流了,否",
        "L001,MATH1,T001,2026-09-14,3-4,submitted,no,09:55,40,38,优,优,良,良,优,良,双周,是,交流了,否",
        "X999,MATH1,T001,2026-09-21,3-4,draft,no,,,,,,,,,,,,,",  # unknown observer
        "L003,ADULT1,T001,2026-09-08,1-2,draft,yes,,,,,,,,,,,,,",  # part-time course
        "L003,MATH1,T001,2026-09-21,3-4,submitted,no,09:55,40,38,优,优,良,良,优,,记录,是,,否",  # incomplete
    ]
    result = run("import", "observations", _import_csv(tmp_path, rows))
    assert result.exit_code == 2
    out = result.output
    assert "row 3, column 日期" in out and "holiday" in out
    assert "row 4, column 日期" in out and "week 2 is not a teaching week" in out and "1-17单" in out
    assert "row 5, column 听课人工号" in out and "unknown observer" in out
    assert "row 6, column 课程代码" in out and "full-time" in out
    assert "row 7, column 教学效果" in out and "row 7, column 与教师交流内容" in out
    assert "row 2" not in out
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 0


def test_import_observations_stores_group_record_and_is_rerunnable(world, run, tmp_path, session_factory):  # type: ignore[no-untyped-def]
    path = _import_csv(tmp_path, [GOOD, "L003,MATH1,T001,2026/9/21,3-4,draft,是,,,,,,,,,,开始记录,,,"])
    first = run("import", "observations", path)
    assert first.exit_code == 0, first.output
    assert "created 2" in first.output
    again = run("import", "observations", path)
    assert again.exit_code == 0 and "created 0" in again.output and "already imported 2" in again.output
    with session_factory() as s:
        records = {o.session.date: o for o in s.scalars(select(Observation))}
        shared = records[MONDAY_W1]
        assert shared.imported and shared.status == "submitted" and shared.narrative == "纸质记录"
        assert {r.dimension: r.rating for r in shared.ratings}["methods"] == "good"
        assert shared.exchange_teacher_done is True and shared.exchange_students_done is False
        assert sorted((m.person.employee_no, m.role, m.status) for m in shared.members) == [
            ("L001", "author", "signed"),
            ("L002", "co_observer", "signed"),
        ]
        draft = records[dt.date(2026, 9, 21)]
        assert draft.status == "draft" and draft.is_supervision and draft.author.employee_no == "L003"


def test_export_reads_back_through_import(world, as_user, run, tmp_path, session_factory):  # type: ignore[no-untyped-def]
    evil = '=HYPERLINK("http://evil.example","x")'
    _submitted(as_user(OBSERVER), world, narrative=evil)
    data = as_user(QC).get("/observations/export.xlsx").get_data()
    with session_factory.begin() as s:  # a fresh start: the records are gone, the timetable stays
        for model in (ObservationMember, Observation):
            for row in s.scalars(select(model)):
                s.delete(row)
    path = tmp_path / "export.xlsx"
    path.write_bytes(data)
    result = run("import", "observations", str(path))
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        obs = s.scalars(select(Observation)).one()
        assert obs.narrative == evil and obs.status == "submitted" and obs.present_count == 40
