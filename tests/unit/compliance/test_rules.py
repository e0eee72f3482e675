"""The rule kinds as pure functions (``lti_tool.compliance.rules``), one group of tests per rule ID.

No database: each test hands the function the windows and the pre-aggregated facts the compliance
service would compute, and checks required / done / remaining / status / missing.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.compliance.rules import (
    NOT_APPLICABLE,
    OK,
    SHORT,
    Facts,
    Item,
    Subject,
    Window,
    clip,
    evaluate,
    merge,
    months_of,
)
from lti_tool.policy.schema import default_policy

D = dt.date
SEMESTER = Window(D(2026, 9, 7), D(2027, 1, 10))
FULL = (SEMESTER,)
WHO = Subject(1, "L001", "张副校长")
POLICY = default_policy()


def judge(rule_id: str, facts: Facts, windows: tuple[Window, ...] = FULL, **kwargs):  # type: ignore[no-untyped-def]
    return evaluate(POLICY.rule(rule_id), WHO, windows, SEMESTER, facts, **kwargs)


# -- windows -----------------------------------------------------------------------------------------------
def test_clip_and_merge_tenures():
    assert clip(None, None, SEMESTER) == SEMESTER
    assert clip(D(2026, 11, 1), None, SEMESTER) == Window(D(2026, 11, 1), D(2027, 1, 10))
    assert clip(D(2020, 1, 1), D(2026, 8, 31), SEMESTER) is None
    merged = merge(
        [
            Window(D(2026, 9, 7), D(2026, 10, 1)),
            Window(D(2026, 10, 2), D(2026, 11, 1)),
            Window(D(2026, 12, 1), D(2026, 12, 31)),
            Window(D(2026, 9, 20), D(2026, 9, 30)),
        ]
    )
    assert merged == (Window(D(2026, 9, 7), D(2026, 11, 1)), Window(D(2026, 12, 1), D(2026, 12, 31)))


def test_months_of_a_semester():
    assert months_of(FULL) == [(2026, 9), (2026, 10), (2026, 11), (2026, 12), (2027, 1)]
    assert months_of((Window(D(2026, 10, 15), D(2026, 11, 2)),)) == [(2026, 10), (2026, 11)]


# -- O-1 / O-2 / O-4 / O-5 / O-7 (min_count) ---------------------------------------------------------------
@pytest.mark.parametrize(("rule_id", "need"), [("O-1", 2), ("O-2", 3), ("O-4", 5), ("O-5", 3), ("O-7", 4)])
def test_min_count_rules_ok_and_short(rule_id: str, need: int):
    short = judge(rule_id, Facts(count=need - 1))
    assert (short.required, short.done, short.remaining, short.status) == (need, need - 1, 1, SHORT)
    ok = judge(rule_id, Facts(count=need + 2))
    assert (ok.done, ok.remaining, ok.status) == (need + 2, 0, OK)


def test_O1_nothing_done_is_short_with_full_remaining():
    r = judge("O-1", Facts())
    assert (r.required, r.done, r.remaining, r.status, r.missing) == (2, 0, 2, SHORT, ())
    assert r.explanation_text == "0 of 2 observations done."
    assert r.partial is False


def test_O2_partial_tenure_keeps_the_quota_and_flags_it():
    window = (Window(D(2026, 11, 1), D(2027, 1, 10)),)
    r = judge("O-2", Facts(count=3), window)
    assert (r.required, r.status, r.partial) == (3, OK, True)
    assert r.to_dict()["windows"] == [{"start": "2026-11-01", "end": "2027-01-10"}]


def test_O4_reads_supervision_but_O5_does_not():
    assert POLICY.rule("O-4").include_supervision is True
    assert POLICY.rule("O-5").include_supervision is False


# -- O-3 (each_course) -------------------------------------------------------------------------------------
COURSES = (
    Item("SZ1", "思想道德与法治（SZ1）"),
    Item("SZ2", "毛泽东思想和中国特色社会主义理论体系概论（SZ2）"),
)


def test_O3_missing_course_is_named():
    r = judge("O-3", Facts(required_items=COURSES, covered=frozenset({"SZ1", "EN1"})))
    assert (r.required, r.done, r.remaining, r.status) == (2, 1, 1, SHORT)
    assert [m.code for m in r.missing] == ["SZ2"]
    assert "毛泽东思想" in r.explanation_text


def test_O3_all_covered_and_nothing_taught():
    assert judge("O-3", Facts(required_items=COURSES, covered=frozenset({"SZ1", "SZ2"}))).status == OK
    none = judge("O-3", Facts(covered=frozenset({"SZ1"})))
    assert (none.required, none.status) == (0, NOT_APPLICABLE)


# -- O-6 (tenure_coverage) ---------------------------------------------------------------------------------
TEACHERS = (Item("T101", "孙老师（T101）"), Item("T102", "钱老师（T102）"), Item("T103", "吴老师（T103）"))


def test_O6_progress_is_observed_over_teaching():
    term = Window(D(2026, 3, 1), D(2029, 2, 28))
    r = judge(
        "O-6",
        Facts(required_items=TEACHERS, covered=frozenset({"T101", "T103", "T999"})),
        (Window(D(2026, 3, 1), D(2027, 1, 10)),),
        term=term,
    )
    assert (r.required, r.done, r.remaining, r.status) == (3, 2, 1, SHORT)
    assert r.progress == pytest.approx(2 / 3)
    assert [m.code for m in r.missing] == ["T102"]
    assert "the term continues" in r.explanation_text
    assert r.partial is False  # the term covers the whole semester


def test_O6_ended_term_and_full_coverage():
    term = Window(D(2023, 9, 1), D(2026, 12, 31))
    ended = judge(
        "O-6",
        Facts(required_items=TEACHERS, covered=frozenset({"T101"})),
        (Window(D(2023, 9, 1), D(2026, 12, 31)),),
        term=term,
    )
    assert ended.status == SHORT and "2023-09-01–2026-12-31" in ended.explanation_text
    assert ended.partial is True  # the term ends inside the semester
    done = judge(
        "O-6", Facts(required_items=TEACHERS, covered=frozenset({"T101", "T102", "T103"})), term=term
    )
    assert (done.done, done.status, done.missing) == (3, OK, ())
    nobody = judge("O-6", Facts(), term=term)
    assert nobody.status == NOT_APPLICABLE


# -- O-8 (min_count over 思政 courses) -----------------------------------------------------------------------
def test_O8_counts_ideological_observations():
    rule = POLICY.rule("O-8")
    assert rule.courses == "ideological"
    r = judge("O-8", Facts(count=0))
    assert (r.required, r.status) == (1, SHORT)
    assert "思政" in r.explanation_text
    assert judge("O-8", Facts(count=1)).status == OK


# -- O-9 (per_month) ---------------------------------------------------------------------------------------
def test_O9_month_without_patrol_is_missing():
    per_month = {(2026, 9): 1, (2026, 10): 2, (2026, 11): 1, (2027, 1): 1}
    r = judge("O-9", Facts(per_month=per_month))
    assert (r.required, r.done, r.remaining, r.status) == (5, 4, 1, SHORT)
    assert [m.code for m in r.missing] == ["2026-12"]
    assert "2026-12" in r.explanation_text


def test_O9_partial_tenure_asks_only_the_months_held():
    r = judge(
        "O-9",
        Facts(per_month={(2026, 11): 1, (2026, 12): 1, (2027, 1): 3}),
        (Window(D(2026, 11, 3), D(2027, 1, 10)),),
    )
    assert (r.required, r.done, r.status, r.partial) == (3, 3, OK, True)


# -- O-10 (in_scope_share) ---------------------------------------------------------------------------------
def test_O10_is_informative_never_short():
    below = judge("O-10", Facts(count=4, in_scope=1))
    assert (below.status, below.below_target, below.informative) == (OK, True, True)
    assert below.share == pytest.approx(0.25)
    assert below.remaining == 0
    above = judge("O-10", Facts(count=4, in_scope=3))
    assert (above.status, above.below_target) == (OK, False)
    empty = judge("O-10", Facts())
    assert (empty.status, empty.share) == (NOT_APPLICABLE, None)


def test_result_json_shape():
    row = judge("O-3", Facts(required_items=COURSES, covered=frozenset({"SZ1"}))).to_dict()
    for key in ("employee_no", "name", "rule", "required", "done", "remaining", "status", "missing"):
        assert key in row
    assert row["rule"] == "O-3" and row["missing"] == ["毛泽东思想和中国特色社会主义理论体系概论（SZ2）"]
