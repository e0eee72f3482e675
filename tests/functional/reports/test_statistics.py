"""Semester statistics on the hand-counted college of ``worlds.statistics_world`` (expected numbers there)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, func, select

from lti_tool.directory.models import Person
from lti_tool.reports.models import ReportRun, StatisticsSnapshot
from lti_tool.reports.services import RunProgress
from lti_tool.reports.statistics import (
    SemesterStatistics,
    StatisticsService,
    build_statistics,
    compute_statistics,
)
from lti_tool.timetable.models import Semester
from tests.support import factories as f
from tests.support import worlds


@pytest.fixture
def built(db_session):  # type: ignore[no-untyped-def]
    return worlds.statistics_world(db_session)


@pytest.fixture
def stats(db_session, built) -> SemesterStatistics:  # type: ignore[no-untyped-def]
    service = StatisticsService(db_session, built.institution_id)
    return service.compute(built.semester, now=worlds.STATISTICS_NOW)


def test_headline_figures_match_the_hand_count(stats):  # type: ignore[no-untyped-def]
    h = stats.headline
    for name, value in worlds.STATISTICS_EXPECTED.items():
        assert getattr(h, name) == value, name
    assert h.compliance_rate == pytest.approx(0.4)
    assert h.teacher_coverage == pytest.approx(0.8)
    assert stats.institution_name == "吉林交通职业技术学院"
    assert (stats.start, stats.end) == ("2026-09-07", "2027-01-10")


def test_compliance_groups_and_the_list_of_those_short(stats):  # type: ignore[no-untyped-def]
    groups = {g.code: g for g in stats.groups}
    assert list(groups) == ["school_leaders", "college_heads", "functional_heads"]
    leaders = groups["school_leaders"]
    assert [p.name for p in leaders.people] == ["王书记", "张副校长"]
    assert leaders.rule_ids == ("O-1", "O-2", "O-3")
    zhang = leaders.people[1]
    o2 = zhang.cell("O-2")
    assert (o2.required, o2.done, o2.status) == (3, 2, "short")
    assert leaders.people[0].cell("O-2") is None  # 党委书记 has no O-2 duty
    assert [(s.name, s.rule_id) for s in leaders.short_list] == [("张副校长", "O-2"), ("张副校长", "O-3")]
    assert leaders.short_list[1].missing == ("毛泽东思想和中国特色社会主义理论体系概论（SZ2）",)
    heads = groups["college_heads"]
    assert {(s.name, s.rule_id, s.done, s.required) for s in heads.short_list} == {
        ("陈院长", "O-4", 2, 5),
        ("马主任", "O-6", 1, 2),
    }
    assert groups["functional_heads"].compliant == 1
    summary = {r.rule_id: r for r in stats.rule_summary}
    assert (summary["O-1"].applicable, summary["O-1"].ok) == (2, 2)
    assert (summary["O-3"].ok, summary["O-3"].short) == (1, 1)
    assert summary["O-5"].applicable == 0
    assert summary["O-10"].informative and summary["O-10"].short == 0


def test_O3_ideological_matrix_and_O6_tenure_coverage(stats):  # type: ignore[no-untyped-def]
    (matrix,) = stats.ideological
    assert matrix.rule_id == "O-3"
    assert [c.code for c in matrix.courses] == ["SZ1", "SZ2"]
    rows = {r.name: r for r in matrix.rows}
    assert rows["王书记"].counts == (1, 1) and rows["王书记"].status == "ok"
    assert rows["张副校长"].counts == (1, 0) and (rows["张副校长"].covered, rows["张副校长"].required) == (
        1,
        2,
    )
    (tenure,) = stats.tenure
    assert (tenure.name, tenure.observed, tenure.teaching, tenure.term_start, tenure.term_end) == (
        "马主任",
        1,
        2,
        "2026-09-01",
        "",
    )
    assert tenure.missing == ("钱老师（T102）",)


def test_rating_distributions_per_dimension_and_per_unit(stats):  # type: ignore[no-untyped-def]
    r = stats.ratings
    assert r.scale_labels == ("优", "良", "中", "差")
    dims = {d.code: d for d in r.dimensions}
    assert [d.code for d in r.dimensions] == list(worlds.DIMENSIONS)
    assert dims["moral_education"].counts == (2, 1, 0, 0)
    assert dims["discipline"].counts == (1, 1, 0, 1)
    assert dims["effect"].counts == (1, 1, 1, 0)
    assert dims["discipline"].average == pytest.approx(8 / 3, abs=1e-3)  # the draft's 差 ×6 is not counted
    units = {u.label: u for u in r.units}
    assert units["马克思主义学院"].counts == (6, 5, 1, 0) and units["马克思主义学院"].records == 3
    assert units["交通工程学院"].counts == (1, 4, 0, 1) and units["交通工程学院"].records == 2
    assert units["汽车工程学院"].counts == (0, 0, 0, 0) and units["汽车工程学院"].records == 1
    assert "另一所学院" not in units
    coverage = {u.unit: (u.teaching, u.covered) for u in stats.unit_coverage}
    assert coverage == {"交通工程学院": (2, 1), "马克思主义学院": (2, 2), "汽车工程学院": (1, 1)}


def test_problems_with_handling_status_and_overdue(stats):  # type: ignore[no-untyped-def]
    p = stats.problems
    assert (p.total, p.open, p.overdue, p.overdue_days) == (3, 2, 1, 7)
    assert {c.code: c.count for c in p.by_status} == {
        "new": 1,
        "accepted": 1,
        "resolved": 1,
        "confirmed": 0,
        "rejected": 0,
    }
    assert {c.code: c.count for c in p.by_source} == {"record": 2, "patrol": 1}
    assert {c.label: c.count for c in p.by_unit} == {"后勤处": 2, "马克思主义学院": 1}
    items = [
        (i.description, i.source, i.category_label, i.unit, i.status, i.days_open, i.overdue) for i in p.items
    ]
    assert items == [
        ("投影仪不清晰", "record", "教学设施", "后勤处", "new", 75, True),
        ("个别学生迟到", "record", "教风", "马克思主义学院", "accepted", 3, False),
        ("教室灯管损坏", "patrol", "教学环境", "后勤处", "resolved", 2, False),
    ]
    assert p.items[2].handling == "已更换灯管"
    assert p.handled_rate == pytest.approx(1 / 3)


def test_monthly_trend(stats):  # type: ignore[no-untyped-def]
    assert [(m.month, m.observations, m.observer_counts, m.patrols) for m in stats.trend] == [
        ("2026-09", 2, 3, 1),
        ("2026-10", 2, 2, 1),
        ("2026-11", 2, 2, 1),
        ("2026-12", 0, 0, 1),
        ("2027-01", 0, 0, 1),
    ]


def test_comparison_with_the_previous_semester(stats):  # type: ignore[no-untyped-def]
    prev = stats.previous
    assert prev is not None and prev.semester_code == "2025-2026-2"
    assert (prev.observations, prev.observer_counts, prev.teachers_teaching, prev.teachers_covered) == (
        1,
        1,
        1,
        1,
    )
    assert (prev.observers_with_duty, prev.compliant_people, prev.problems, prev.patrols) == (4, 0, 1, 0)
    assert prev.compliance_rate == 0.0


def test_first_semester_has_no_previous(db_session, built):  # type: ignore[no-untyped-def]
    stats = compute_statistics(db_session, built.institution_id, built.previous.id)
    assert stats.previous is None
    assert stats.headline.observations == 1


def test_json_round_trip_and_schema_guard(stats):  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(stats.to_dict()))
    assert SemesterStatistics.from_dict(data) == stats
    data["schema_version"] = 0
    with pytest.raises(ValueError):
        SemesterStatistics.from_dict(data)


def test_no_statement_loads_whole_records(db_session, built):  # type: ignore[no-untyped-def]
    """Counting is aggregate SQL: no statement selects record rows (their text columns) to count in Python."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        StatisticsService(db_session, built.institution_id).compute(built.semester, now=worlds.STATISTICS_NOW)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects
    assert not [s for s in selects if "observation.narrative" in s or "observation_rating.comment" in s]
    assert len(selects) < 100  # a fixed number of queries, whatever the number of records


def test_builder_stores_one_snapshot_and_is_idempotent(session_factory, engine):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        built = worlds.statistics_world(s)
        run = ReportRun(institution_id=built.institution_id, kind="statistics", semester_id=built.semester.id)
        s.add(run)
        s.flush()
        run_id, inst, sem_id = run.id, built.institution_id, built.semester.id
    for _ in range(2):
        seen: list[int] = []
        with session_factory() as s:
            progress = RunProgress(s, run_id)
            run = progress.start()

            def record(p: int, m: str = "", _progress=progress, _seen=seen) -> None:  # type: ignore[no-untyped-def]
                _seen.append(p)
                _progress(p, m)

            assert build_statistics(s, run, record) == ("", None)  # type: ignore[arg-type]
            s.commit()
        assert len(set(seen)) >= 5 and seen == sorted(seen)  # several real steps, in order
    with session_factory() as s:
        rows = s.scalars(select(StatisticsSnapshot).where(StatisticsSnapshot.semester_id == sem_id)).all()
        assert len(rows) == 1
        assert SemesterStatistics.from_dict(rows[0].data).headline.observations == 6
        assert s.scalar(select(func.count()).select_from(StatisticsSnapshot)) == 1
        assert StatisticsService(s, inst).latest_snapshot(sem_id) is not None
    assert len(set(seen)) >= 5 and seen == sorted(seen)


def test_fresh_statistics_reuses_a_recent_snapshot_and_recomputes_after_a_change(db_session, built):  # type: ignore[no-untyped-def]
    service = StatisticsService(db_session, built.institution_id)
    first = service.fresh_statistics(built.semester)
    row = service.latest_snapshot(built.semester.id)
    assert row is not None
    again = service.fresh_statistics(built.semester)
    assert again == first and service.latest_snapshot(built.semester.id).id == row.id  # type: ignore[union-attr]
    hq = db_session.scalars(
        select(Person).where(Person.employee_no == "F006", Person.institution_id == built.institution_id)
    ).one()
    f.patrol(db_session, hq, worlds.D(2026, 12, 20))  # a data change: the snapshot is stale now
    newer = service.fresh_statistics(built.semester)
    assert newer.headline.patrols == first.headline.patrols + 1


def _build(session_factory, run_id: int) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        progress = RunProgress(s, run_id)
        build_statistics(s, progress.start(), progress)
        s.commit()


def test_O14_frozen_snapshot_of_an_archived_semester_is_kept_and_reproduced(session_factory):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        built = worlds.statistics_world(s)
        runs = [
            ReportRun(
                institution_id=built.institution_id,
                kind="statistics",
                semester_id=built.semester.id,
                frozen=frozen,
                version=v,
            )
            for frozen, v in ((True, 1), (False, 1), (False, 1))
        ]
        s.add_all(runs)
        s.flush()
        ids, inst, sem_id = [r.id for r in runs], built.institution_id, built.semester.id
    for run_id in ids:
        _build(session_factory, run_id)
    with session_factory.begin() as s:
        rows = s.scalars(select(StatisticsSnapshot).where(StatisticsSnapshot.semester_id == sem_id)).all()
        assert sorted(r.frozen for r in rows) == [False, True]  # the normal runs replaced each other only
        semester = s.get(Semester, sem_id)
        semester.status = "archived"
        hq = s.scalars(
            select(Person).where(Person.employee_no == "F006", Person.institution_id == inst)
        ).one()
        f.patrol(s, hq, worlds.D(2026, 12, 20))  # a late change must not alter the archived numbers
    with session_factory.begin() as s:
        service = StatisticsService(s, inst)
        semester = s.get(Semester, sem_id)
        assert service.fresh_statistics(semester).headline.patrols == 5
        semester.status = "open"  # reopened: the report follows the data again
        s.flush()
        assert service.fresh_statistics(semester).headline.patrols == 6
        assert (
            len(s.scalars(select(StatisticsSnapshot).where(StatisticsSnapshot.frozen.is_(True))).all()) == 1
        )


def test_a_teacher_whose_classes_left_the_timetable_is_not_one_who_teaches(db_session, built):  # type: ignore[no-untyped-def]
    """A teacher whose only sessions a re-import flagged vanished neither teaches nor lacks an observation
    (the engine's O-6 and the picker skip such sessions too); the hand count stays 5 teaching, 4 covered."""
    from lti_tool.timetable.models import SessionStatus

    iid = built.institution_id
    gone = f.person(db_session, iid, "停课教师", employee_no="T-GONE")
    sec = f.section(db_session, built.semester, f.course(db_session, iid, "已撤销课程", code="GONE1"), [gone])
    f.class_session(db_session, sec, built.semester.start_date).status = SessionStatus.VANISHED.value
    db_session.flush()
    stats = StatisticsService(db_session, iid).compute(built.semester, now=worlds.STATISTICS_NOW)
    h = stats.headline
    assert (h.teachers_teaching, h.teachers_covered, h.teachers_never_observed) == (5, 4, 1)
