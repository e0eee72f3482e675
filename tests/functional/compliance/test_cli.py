"""``tingke compliance --json`` and ``tingke policy show|upload|export`` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import default_policy_text, parse_policy
from lti_tool.timetable.models import Semester
from tests.support.cli import Run, cli_runner
from tests.support.worlds import compliance_world


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return cli_runner(monkeypatch, database_url, tmp_path / "instance")


@pytest.fixture
def scenario(session_factory):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return compliance_world(s)


def test_compliance_json_lists_every_person_and_rule(run, scenario, session_factory):  # type: ignore[no-untyped-def]
    result = run("compliance", "--semester", "2026-2027-1", "--institution", "SCN", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    observation = [r for r in rows if r["rule"].startswith("O-")]
    assert len(observation) == 20  # 13 people: 张 3 rules; 王, 赵, 陈, 周, 学工 2 each; the other 7 one each
    # The contact rules (C-*) beside them, by the person's group (docs/policy-rules.md): a school leader has
    # C-1a, C-1b, C-3a, C-4, C-6a and C-7b; a college head C-2a, C-2b, C-3b and C-7b; a department head C-5.
    by_group = {
        "school_leaders": {"C-1a", "C-1b", "C-3a", "C-4", "C-6a", "C-7b"},
        "college_heads": {"C-2a", "C-2b", "C-3b", "C-7b"},
        "functional_heads": {"C-5"},
    }
    contact: dict[str, set[str]] = {}
    for r in rows:
        if r["rule"].startswith("C-"):
            contact.setdefault(r["employee_no"], set()).add(r["rule"])
            assert r["rule"] in by_group[r["group"]]
    assert contact["L001"] == by_group["school_leaders"]
    assert len(rows) == 20 + sum(len(v) for v in contact.values())
    for row in rows:
        assert {
            "employee_no",
            "name",
            "rule",
            "required",
            "done",
            "remaining",
            "status",
            "missing",
        } <= row.keys()
        assert row["status"] in ("ok", "short", "not_applicable")
    by = {(r["employee_no"], r["rule"]): r for r in rows}
    assert by[("L001", "O-3")]["missing"] == ["毛泽东思想和中国特色社会主义理论体系概论（SZ2）"]
    assert (by[("H003", "O-6")]["done"], by[("H003", "O-6")]["required"]) == (2, 3)
    assert by[("F004", "O-9")]["missing"] == ["2026-12"]
    assert by[("L004", "O-1")]["partial_tenure"] is True
    assert by[("H001", "O-4")]["status"] == "ok" and by[("H002", "O-5")]["status"] == "short"
    assert "外校长" not in result.output
    with session_factory() as s:  # the first evaluation snapshots the policy version
        sem = s.scalars(select(Semester).where(Semester.id == scenario.semester.id)).one()
        assert sem.policy_version_id is not None


def test_compliance_text_output_and_unknown_semester(run, scenario):  # type: ignore[no-untyped-def]
    result = run("compliance", "--semester", "2026-2027-1", "--institution", "SCN")
    assert result.exit_code == 0, result.output
    assert "people with duties: 13" in result.output
    assert "observation duties (O-*): people 13  compliant: 5  short: 8" in result.output
    assert "contact duties (C-*): people" in result.output
    assert "L001  张副校长" in result.output
    missing = run("compliance", "--semester", "1999-2000-1", "--institution", "SCN")
    assert missing.exit_code == 2
    assert "1999-2000-1" in missing.output


def test_policy_show_and_export(run, scenario, tmp_path):  # type: ignore[no-untyped-def]
    shown = run("policy", "show", "--institution", "SCN")
    assert shown.exit_code == 0, shown.output
    assert "O-6" in shown.output and "二.2" in shown.output and "unit_kind=marxism_school" in shown.output
    out = tmp_path / "p.toml"
    exported = run("policy", "export", "--institution", "SCN", "--out", str(out))
    assert exported.exit_code == 0
    assert parse_policy(out.read_text(encoding="utf-8")).rule("O-2").count == 3


def test_policy_upload_validates_and_stores(run, scenario, tmp_path, session_factory):  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        default_policy_text().replace('activity = "patrol"', 'activity = "stroll"'), encoding="utf-8"
    )
    result = run("policy", "upload", str(bad), "--institution", "SCN")
    assert result.exit_code == 2
    assert "rule O-9: 'activity' must be one of" in result.output

    def versions() -> int:
        with session_factory() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(PolicyVersion)
                    .where(PolicyVersion.institution_id == scenario.institution_id)
                )
                or 0
            )

    assert versions() == 1
    good = tmp_path / "good.toml"
    good.write_text(default_policy_text().replace("count = 4\n", "count = 6\n", 1), encoding="utf-8")
    result = run("policy", "upload", str(good), "--institution", "SCN")
    assert result.exit_code == 0, result.output
    assert "policy version 2 stored" in result.output
    assert versions() == 2
