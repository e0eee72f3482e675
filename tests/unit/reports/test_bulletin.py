"""The bulletin's grouping (lti_tool/reports/bulletin.py): the engine's short results by system and duty, in
the policy's order, in words; informative and met results never listed (C-7c)."""

from __future__ import annotations

import datetime as dt

from lti_tool.compliance.rules import NOT_APPLICABLE, OK, SHORT, Item, RuleResult, Window
from lti_tool.compliance.services import ComplianceReport, InstitutionSummary, PersonCompliance
from lti_tool.policy.schema import default_policy
from lti_tool.reports.bulletin import ShortLine, number_label, shortfalls_of

POLICY = default_policy()
SEMESTER = Window(dt.date(2026, 9, 7), dt.date(2027, 1, 10))


def _result(pid: int, name: str, rule_id: str, required: int, done: int, status: str, **kw) -> RuleResult:  # type: ignore[no-untyped-def]
    rule = POLICY.rule(rule_id)
    return RuleResult(
        pid, f"E{pid}", name, rule_id, rule.kind, required, done, max(0, required - done), status, **kw
    )


def _report(*people: PersonCompliance) -> ComplianceReport:
    summary = InstitutionSummary(len(people), 0, None, 0, 0)
    return ComplianceReport(1, "2026-2027-1", SEMESTER, POLICY, None, list(people), summary)


def test_short_duties_grouped_by_system_and_duty_in_the_policys_order() -> None:
    wang = PersonCompliance(1, "E1", "王", "保卫处")
    wang.results = [
        _result(1, "王", "C-5", 1, 0, SHORT),
        _result(1, "王", "O-9", 1, 0, SHORT, missing=(Item("2026-09", "2026-09"),)),
    ]
    li = PersonCompliance(2, "E2", "李", "资产处")
    li.results = [_result(2, "李", "O-9", 1, 1, OK), _result(2, "李", "C-5", 1, 1, OK)]
    zhao = PersonCompliance(3, "E3", "赵", "后勤处")
    zhao.results = [
        _result(3, "赵", "C-5", 1, 0, SHORT),
        _result(3, "赵", "C-7b", 1, 0, NOT_APPLICABLE),
        _result(3, "赵", "O-10", 0, 0, SHORT, informative=True),
    ]
    found = shortfalls_of(_report(wang, li, zhao), dt.date(2026, 9, 30), 4)
    observation, contact = found.systems
    assert (observation.system, observation.people, observation.compliant) == ("observation", 3, 2)
    assert (contact.system, contact.people, contact.compliant, contact.short_people) == ("contact", 3, 1, 2)
    assert [(d.rule_id, d.duty_zh) for d in observation.duties] == [("O-9", "每月至少巡查1次")]
    assert [d.duty_en for d in observation.duties] == ["at least 1 patrol a month"]
    assert [(d.rule_id, [line.name for line in d.lines]) for d in contact.duties] == [("C-5", ["王", "赵"])]
    assert observation.duties[0].lines[0] == ShortLine(1, "王", "保卫处", 1, 0, 1, ("2026-09",))
    assert found.named == [1, 3]


def test_nobody_short_lists_no_duty() -> None:
    li = PersonCompliance(2, "E2", "李", "资产处")
    li.results = [_result(2, "李", "O-9", 1, 1, OK)]
    found = shortfalls_of(_report(li), dt.date(2026, 9, 30), 4)
    assert all(not s.duties for s in found.systems) and found.named == []


def test_number_and_missing_words() -> None:
    assert number_label(2026, 3) == "〔2026〕3号"
    assert number_label(None, None) == ""
    many = ShortLine(1, "王", "", 8, 0, 8, tuple(f"教师{i}" for i in range(8)))
    assert many.missing_text == "教师0、教师1、教师2、教师3、教师4、教师5等8项"


def test_a_duty_short_with_nothing_to_count_says_why() -> None:
    """C-1a: two contact colleges (1–2 required) but one of them also last year's: short, 0 to count, no
    missing item. The bulletin names the leader with the engine's reason in Chinese, not an empty line."""
    dong = PersonCompliance(4, "E4", "董", "")
    dong.results = [
        _result(
            4,
            "董",
            "C-1a",
            1,
            2,
            SHORT,
            explanation="Not rotated: %(repeated)s was also contacted in the previous academic year.",
            params={"repeated": "轨道交通学院"},
        )
    ]
    (line,) = shortfalls_of(_report(dong), dt.date(2026, 12, 4), 13).systems[1].duties[0].lines
    assert (line.required, line.done, line.short) == (1, 2, 0)
    assert line.missing_text == "未轮换：轨道交通学院上一学年已联系"
