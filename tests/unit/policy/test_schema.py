"""Loading the policy file: the shipped default is valid; each bad file names the rule ID and the key."""

from __future__ import annotations

import pytest

from lti_tool.policy.schema import PolicyError, default_policy, default_policy_text, parse_policy

TEXT = default_policy_text()


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value.problems


def swap(old: str, new: str, text: str = TEXT) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_default_policy_has_O1_to_O10_with_sources():
    policy = default_policy()
    assert [r.id for r in policy.rules][:10] == [f"O-{i}" for i in range(1, 11)]
    assert all(r.source for r in policy.rules)
    assert policy.rule("O-6").unit_kind == "marxism_school"
    assert policy.rule("O-9").activity == "patrol"
    assert policy.rule("O-10").informative
    assert "思政必修" in policy.ideological_course_kinds
    assert len(policy.dimensions) == 6 and [c.label for c in policy.scale] == ["优", "良", "中", "差"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("count = 5\n", "count = 0\n", "rule O-4: 'count' must be a positive integer"),
        (
            'count = 3\nsource = "二.1',
            'count = "三"\nsource = "二.1',
            "rule O-2: 'count' must be a positive integer",
        ),
        ('kind = "tenure_coverage"', 'kind = "coverage"', "rule O-6: 'kind' must be one of"),
        ('unit_kind = "marxism_school"', 'unit_kind = "marxist"', "rule O-6: 'unit_kind' must be one of"),
        (
            'positions = ["college_dean"]\ncount = 5',
            'positions = ["college_deen"]\ncount = 5',
            "rule O-4: 'positions' names unknown position 'college_deen'",
        ),
        (
            'courses = "ideological"\nsource = "二.1',
            'courses = "politics"\nsource = "二.1',
            "rule O-3: 'courses' must be one of",
        ),
        ('activity = "patrol"', 'activity = "walk"', "rule O-9: 'activity' must be one of"),
        ("target = 0.5", "target = 50", "rule O-10: 'target' must be a number between 0 and 1"),
        (
            'include_supervision = true\nsource = "二.2',
            'include_supervision = "yes"\nsource = "二.2',
            "rule O-4: 'include_supervision' must be true or false",
        ),
        (
            'id = "O-7"\nkind = "min_count"',
            'id = "O-7"\nkind = "min_count"\ncolour = "red"',
            "rule O-7: unknown key 'colour'",
        ),
        ('id = "O-8"', 'id = "O-7"', "rule O-7: duplicate id"),
        ('id = "O-5"\nkind = "min_count"', 'kind = "min_count"', "rules[5]: missing 'id'"),
        (
            'unit_kind = "marxism_school"',
            'unit_kind = "marxism_school"\ncount = 2',
            "rule O-6: key 'count' does not apply to kind tenure_coverage",
        ),
        ("target = 0.5", 'target = 0.5\nunit_kind = "college"', "rule O-10: key 'unit_kind' does not apply"),
    ],
)
def test_bad_rule_names_rule_id_and_key(old: str, new: str, expected: str):
    problems = problems_of(swap(old, new))
    assert any(expected in p for p in problems), problems


def test_each_course_needs_courses_and_tenure_coverage_needs_unit_kind():
    text = swap('courses = "ideological"\nsource = "二.1', 'source = "二.1')
    text = swap('unit_kind = "marxism_school"\n', "", text)
    problems = problems_of(text)
    assert any("rule O-3: kind each_course needs 'courses'" in p for p in problems)
    assert any("rule O-6: kind tenure_coverage needs 'unit_kind'" in p for p in problems)


def test_patrol_cannot_be_restricted_to_courses():
    problems = problems_of(swap('activity = "patrol"', 'activity = "patrol"\ncourses = "ideological"'))
    assert any("rule O-9: 'courses' cannot be combined" in p for p in problems)


def test_every_problem_is_reported_at_once():
    text = swap("count = 5\n", "count = -1\n")
    text = swap('activity = "patrol"', "activity = 3", text)
    problems = problems_of(text)
    assert any(p.startswith("rule O-4:") for p in problems)
    assert any(p.startswith("rule O-9:") for p in problems)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("version = 1", 'version = "one"', "version: must be an integer"),
        (
            'group = "school_leaders", name_en = "Member of the school leadership" }\nparty_secretary',
            'group = "bosses", name_en = "Member of the school leadership" }\nparty_secretary',
            "positions.school_leader.group: unknown group 'bosses'",
        ),
        ('course_kinds = ["思政必修"', 'course_kinds = [1, "思政必修"', "ideological.course_kinds"),
        ("correction_window_days = 7 ", "correction_window_days = -7 ", "correction_window_days"),
        (
            '{ code = "good", label = "良"',
            '{ code = "excellent", label = "良"',
            "form.scale[2]: duplicate code",
        ),
        ("[ideological]", "ideological = 3\n[ideological_x]", "ideological: must be a table"),
    ],
)
def test_bad_top_level_keys_are_named(old: str, new: str, expected: str):
    problems = problems_of(swap(old, new))
    assert any(expected in p for p in problems), problems


def test_not_toml_and_wrong_types_do_not_crash():
    assert problems_of("this is = not = toml")[0].startswith("not valid TOML")
    problems = problems_of(
        swap('positions = ["college_dean"]\ncount = 5', "positions = [{x = 1}]\ncount = 5")
    )
    assert any("rule O-4: 'positions' names unknown position" in p for p in problems)
    problems = problems_of(swap('kind = "tenure_coverage"', 'kind = ["tenure_coverage"]'))
    assert any("rule O-6: 'kind' must be one of" in p for p in problems)


def test_party_member_positions_name_the_rules_own_positions_and_need_party_members_only():
    policy = default_policy()
    assert policy.rule("C-3b").party_member_positions == ("college_dean",)
    assert policy.rule("C-3a").party_member_positions == ()
    wrong = swap('party_member_positions = ["college_dean"]', 'party_member_positions = ["president"]')
    assert any(
        "rule C-3b: 'party_member_positions' must be a list of the rule's" in p for p in problems_of(wrong)
    )
    alone = swap(
        'party_members_only = true\nparty_member_positions = ["college_dean"]',
        'party_member_positions = ["college_dean"]',
    )
    assert any("rule C-3b: 'party_member_positions' applies only with" in p for p in problems_of(alone))
