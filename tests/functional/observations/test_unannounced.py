"""Unannounced and on time (O-12, O-13), through real launches.

docs/policy-rules.md "What unannounced means in the data":

A record may be opened and filled from the observer's arrival, but submitted only once its class is over;
a teacher sees a record of their class only after that class ended; the after-class exchange is never
dated before the class ends; a paper-record import refuses records of classes not yet over. "Now" is the
college's (Asia/Shanghai): the world's class of 2026-09-07 runs 10:00-11:40 there, 02:00-03:40 UTC.

Only ``ObservationService.now`` is pinned; the launches keep the real clock (their tokens are signed now).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lti_tool.observations.models import Observation
from lti_tool.observations.services import ObservationService
from lti_tool.policy.schema import default_policy
from tests.functional.observations import test_workflow as flow
from tests.functional.observations.test_workflow import GOOD, OBSERVER, TEACHER, _import_csv, _save, _start
from tests.support import factories
from tests.support.worlds import complete_fields

world, as_user, run = flow.world, flow.as_user, flow.run  # the workflow tests' fixtures

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DURING_CLASS = dt.datetime(2026, 9, 7, 11, 39, tzinfo=SHANGHAI)
CLASS_OVER = dt.datetime(2026, 9, 7, 11, 40, tzinfo=SHANGHAI)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pin the observation service's "now"; ``clock.at = ...`` moves it."""

    class Clock:
        at = DURING_CLASS

    monkeypatch.setattr(ObservationService, "now", lambda self: Clock.at)
    return Clock


def test_record_can_be_filled_during_class_but_submitted_only_after(world, as_user, clock, session_factory):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    saved = _save(observer, obs_id, complete_fields(default_policy()), 0)
    assert saved.status_code == 200 and saved.get_json()["invalid"] == {}
    page = observer.get(f"/observations/{obs_id}/edit").get_data(as_text=True)
    assert "disabled" in page and "11:40" in page  # the submit button waits for the class end
    early = observer.post_json(f"/observations/{obs_id}/submit", {"draft_version": 1})
    assert early.status_code == 409 and "11:40" in early.get_json()["error"]
    no_js = observer.post(f"/observations/{obs_id}/edit", {"draft_version": 1, "action": "submit"})
    assert no_js.status_code == 409
    with session_factory() as s:
        assert s.get(Observation, obs_id).status == "draft"

    clock.at = CLASS_OVER
    page = observer.get(f"/observations/{obs_id}/edit").get_data(as_text=True)
    assert 'data-action="submit"' in page
    done = observer.post_json(f"/observations/{obs_id}/submit", {"draft_version": 1})
    assert done.status_code == 200, done.get_data(as_text=True)


def test_a_class_on_another_day_says_which_day_it_ends(world, as_user, clock):  # type: ignore[no-untyped-def]
    """Opened the evening before, "the class ends at 11:40" would read as today's 11:40: the day is said."""
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)

    def notice() -> str:
        page = observer.get(f"/observations/{obs_id}/edit").get_data(as_text=True)
        return page[page.index('id="not-over"') :].split("</p>", 1)[0]

    clock.at = dt.datetime(2026, 9, 6, 20, 0, tzinfo=SHANGHAI)
    assert "2026/9/7 11:40" in notice()
    clock.at = DURING_CLASS
    assert "11:40" in notice() and "2026/9/7" not in notice()


def test_after_class_exchange_is_never_before_the_class_ends(world, as_user, clock):  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _start(observer, world.session_w1.id)
    early = _save(
        observer, obs_id, {"exchange_teacher_at": "11:00", "exchange_students_at": "2026-09-07T09:00"}, 0
    )
    assert set(early.get_json()["invalid"]) == {"exchange_teacher_at", "exchange_students_at"}
    assert early.get_json()["saved"] == []
    page = observer.get(f"/observations/{obs_id}/edit").get_data(as_text=True)
    assert 'min="2026-09-07T11:40"' in page
    later = _save(observer, obs_id, {"exchange_teacher_at": "11:45"}, 1)
    assert later.get_json()["saved"] == ["exchange_teacher_at"] and later.get_json()["invalid"] == {}


def test_teacher_sees_a_record_only_after_the_class_ended(world, as_user, clock, session_factory):  # type: ignore[no-untyped-def]
    """A submitted record whose class is not over (here put in by hand, as an import or a clock skew
    could) stays invisible to the teacher: list, detail, home panel, acknowledgement."""
    with session_factory.begin() as s:
        obs = factories.observation(s, s.merge(world.session_w1), s.merge(world.observer))
        obs.narrative = "课堂记录正文"
        obs_id = obs.id
    teacher = as_user(TEACHER)
    for path in ("/home", "/observations/feedback"):
        assert f"/observations/feedback/{obs_id}" not in teacher.get(path).get_data(as_text=True)
    assert teacher.get(f"/observations/feedback/{obs_id}").status_code == 404
    assert teacher.post(f"/observations/feedback/{obs_id}/ack").status_code == 404

    clock.at = CLASS_OVER  # 03:40 UTC: a server comparing UTC wall-clock times would still hide it
    assert f"/observations/feedback/{obs_id}" in teacher.get("/observations/feedback").get_data(as_text=True)
    assert "课堂记录正文" in teacher.get(f"/observations/feedback/{obs_id}").get_data(as_text=True)


def test_import_refuses_records_of_classes_not_yet_over(world, run, tmp_path, clock, session_factory):  # type: ignore[no-untyped-def]
    late_exchange = GOOD.replace("L001;L002", "L003")
    rows = [GOOD, "L001,MATH1,T001,2026-09-21,3-4,draft,no,,,,,,,,,,计划,,,"]
    result = run("import", "observations", _import_csv(tmp_path, rows))
    assert result.exit_code == 2
    assert "row 2, column 日期" in result.output and "has not ended yet" in result.output
    assert "row 3, column 日期" in result.output

    clock.at = CLASS_OVER
    with_time = _import_csv(
        tmp_path,
        [late_exchange + ",2026-09-07 11:00"],
        header=(
            "听课人工号,课程代码,教师工号,日期,节次,状态,教学督导,到达时间,应到人数,实到人数,"
            + ",".join(d.label for d in default_policy().dimensions)
            + ",教学过程记录,课后与教师交流,与教师交流内容,课后与学生交流,与教师交流时间"
        ),
    )
    early = run("import", "observations", with_time)
    assert early.exit_code == 2, early.output
    assert "cannot be before the class ended" in early.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 0
    ok = run("import", "observations", _import_csv(tmp_path, [GOOD]))
    assert ok.exit_code == 0, ok.output
