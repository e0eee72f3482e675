"""Compliance and policy pages through real LTI launches (issue 4 §4).

The hand-counted college of ``test_compliance_scenarios.compliance_world`` is loaded into the launched
institution; the quality center, the organization department and an observer (张副校长, L001) each
open the pages their persona allows, and nothing else.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import func, select

from lti_tool.directory.models import Person, Unit
from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import default_policy_text, parse_policy
from lti_tool.timetable.models import Semester
from tests.support.launch import Launcher, LaunchResult
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser
from tests.support.worlds import compliance_world

QC_USER = LmsUser("qc-1", "质控中心", "qc@jti.edu.cn", "Q001", [ROLE_INSTRUCTOR])
ORG_USER = LmsUser("org-1", "组织部", "org@jti.edu.cn", "Z001", [ROLE_LEARNER])
VP_USER = LmsUser("vp-1", "张副校长", "", "L001", [ROLE_LEARNER])


@pytest.fixture
def college(session_factory, institution_id):  # type: ignore[no-untyped-def]
    """The scenario in the launched institution, plus a quality-center and an organization person."""
    with session_factory.begin() as s:
        scenario = compliance_world(s, institution_id)
        qc = Unit(
            institution_id=institution_id,
            code="QCC",
            name="教学质量监控与评价中心",
            kind="department",
            function="quality_center",
        )
        org = Unit(
            institution_id=institution_id,
            code="ZZB",
            name="党委组织部",
            kind="department",
            function="organization",
        )
        s.add_all([qc, org])
        s.flush()
        s.add_all(
            [
                Person(institution_id=institution_id, employee_no="Q001", name="质控中心", unit_id=qc.id),
                Person(institution_id=institution_id, employee_no="Z001", name="组织部", unit_id=org.id),
            ]
        )
        ids = {
            no: pid
            for no, pid in s.execute(
                select(Person.employee_no, Person.id).where(Person.institution_id == institution_id)
            )
        }
        return scenario.semester.id, scenario.previous.id, ids, scenario.other_institution_id


def page(result: LaunchResult, client, path: str, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    response = result.get(client, path)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:2000]
    return text


def csrf_of(html: str) -> str:
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match
    return match.group(1)


def upload(client, result: LaunchResult, html: str, data: bytes, name: str = "policy.toml"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/policy/rules?s={result.token}",
        data={"csrf": csrf_of(html), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_dashboard_shows_each_group_and_who_is_short(launcher: Launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, _, ids, _ = college
    qc = launcher.launch(QC_USER)
    html = page(qc, client, f"/policy/?semester={sem_id}")
    for group in ("校领导", "教学院（部）负责人", "职能部门负责人"):
        assert group in html
    for rule in ("O-1", "O-2", "O-3", "O-4", "O-5", "O-6", "O-7", "O-8", "O-9", "O-10"):
        assert f">{rule}<" in html
    # Headline: 13 people with duties, 5 compliant → 38%; 27 records.
    assert "38%" in html and ">27<" in html
    # 张副校长 is short on O-3 and the missing course is named in the short list.
    assert "毛泽东思想和中国特色社会主义理论体系概论（SZ2）" in html
    assert f"/policy/person/{ids['L001']}" in html
    assert "外校长" not in html


def test_dashboard_is_the_default_landing_without_a_semester_argument(launcher, client, college):  # type: ignore[no-untyped-def]
    qc = launcher.launch(QC_USER)
    html = page(qc, client, "/policy/")
    assert 'name="semester"' in html and "张副校长" in html


def test_drill_down_names_courses_teachers_and_months(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, _, ids, _ = college
    qc = launcher.launch(QC_USER)
    zhang = page(qc, client, f"/policy/person/{ids['L001']}?semester={sem_id}")
    assert 'id="rule-O-3"' in zhang and "毛泽东思想和中国特色社会主义理论体系概论（SZ2）" in zhang
    ma = page(qc, client, f"/policy/person/{ids['H003']}?semester={sem_id}")
    missing = re.search(r'<ul class="missing">(.*?)</ul>', ma, re.S)
    assert missing and re.findall(r"<li>(.*?)</li>", missing.group(1)) == ["钱老师（T102）"]
    xg = page(qc, client, f"/policy/person/{ids['F004']}?semester={sem_id}")
    assert "2026-12" in xg
    zhao = page(qc, client, f"/policy/person/{ids['L004']}?semester={sem_id}")
    assert "progress" in zhao and 'class="badge warn"' in zhao  # partial tenure is shown


def test_previous_semester_and_bad_arguments(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, prev_id, ids, other_inst = college
    qc = launcher.launch(QC_USER)
    html = page(qc, client, f"/policy/person/{ids['H003']}?semester={prev_id}")
    assert "钱老师（T102）" in html
    page(qc, client, "/policy/?semester=abc", 400)
    page(qc, client, "/policy/person/999999", 404)
    page(qc, client, f"/policy/person/{ids['L001']}?semester=999999", 404)


def test_json_api_matches_the_cli_shape(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, _, _, _ = college
    qc = launcher.launch(QC_USER)
    response = qc.get(client, f"/policy/api/compliance?semester={sem_id}")
    assert response.status_code == 200
    rows = json.loads(response.get_data(as_text=True))
    o3 = next(r for r in rows if r["employee_no"] == "L001" and r["rule"] == "O-3")
    assert (o3["required"], o3["done"], o3["remaining"], o3["status"]) == (2, 1, 1, "short")
    assert o3["missing"] == ["毛泽东思想和中国特色社会主义理论体系概论（SZ2）"]


def test_organization_department_reads_but_cannot_upload(launcher, client, college, session_factory):  # type: ignore[no-untyped-def]
    sem_id, _, ids, _ = college
    org = launcher.launch(ORG_USER)
    html = page(org, client, f"/policy/?semester={sem_id}")
    assert "张副校长" in html and "38%" in html
    page(org, client, f"/policy/person/{ids['L003']}?semester={sem_id}")
    rules = page(org, client, "/policy/rules")
    assert "O-6" in rules and 'enctype="multipart/form-data"' not in rules
    response = upload(client, org, rules, default_policy_text().encode())
    assert response.status_code == 403
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PolicyVersion)) == 2  # JTI + OTHER defaults only


def test_observer_sees_own_progress_only(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, _, ids, _ = college
    vp = launcher.launch(VP_USER)
    home = page(vp, client, "/home")
    assert 'id="my-duties"' in home
    panel = home.split('id="my-duties"')[1].split("</section>")[0]
    for rule in ("O-1", "O-2", "O-3"):
        assert rule in panel
    assert "<progress" in panel and "3/3" in panel and "1/2" in panel
    mine = page(vp, client, f"/policy/me?semester={sem_id}")
    assert "毛泽东思想和中国特色社会主义理论体系概论（SZ2）" in mine
    page(vp, client, f"/policy/?semester={sem_id}", 403)
    page(vp, client, f"/policy/person/{ids['L003']}?semester={sem_id}", 403)
    page(vp, client, "/policy/rules", 403)


def test_policy_page_lists_rules_and_sources(launcher, client, college):  # type: ignore[no-untyped-def]
    qc = launcher.launch(QC_USER)
    html = page(qc, client, "/policy/rules")
    assert 'id="rule-O-6"' in html and "二.2" in html and "马克思主义学院领导班子成员" in html
    assert "立德树人融入课程教学" in html and "思政必修" in html
    o6 = html[html.index('id="rule-O-6"') :].split("</tr>", 1)[0]
    # the unit's kind in words, not its code
    assert "听课覆盖本单位全部授课教师（马克思主义学院）" in o6 and "marxism_school" not in o6
    exported = qc.get(client, "/policy/export")
    assert exported.status_code == 200
    assert parse_policy(exported.get_data(as_text=True)).rule("O-4").count == 5


def test_bad_upload_lists_problems_and_stores_nothing(launcher, client, college, session_factory):  # type: ignore[no-untyped-def]
    qc = launcher.launch(QC_USER)
    html = page(qc, client, "/policy/rules")
    bad = (
        default_policy_text()
        .replace("count = 5", "count = 0", 1)
        .replace('unit_kind = "marxism_school"', 'unit_kind = "marxist"', 1)
    )
    response = upload(client, qc, html, bad.encode())
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "rule O-4: &#39;count&#39; must be a positive integer" in text
    assert "rule O-6: &#39;unit_kind&#39;" in text
    response = upload(client, qc, html, b"\xff\xfe not text")
    assert response.status_code == 400
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PolicyVersion)) == 2


def test_good_upload_becomes_current_but_evaluated_semesters_keep_theirs(  # type: ignore[no-untyped-def]
    launcher, client, college, session_factory, institution_id
):
    sem_id, _, ids, _ = college
    qc = launcher.launch(QC_USER)
    page(qc, client, f"/policy/?semester={sem_id}")  # evaluating snapshots version 1 on the semester
    html = page(qc, client, "/policy/rules")
    stricter = default_policy_text().replace("count = 2\n", "count = 9\n", 1)
    response = upload(client, qc, html, stricter.encode())
    assert response.status_code == 303
    assert "uploaded=2" in response.headers["Location"]
    with session_factory() as s:
        numbers = s.scalars(
            select(PolicyVersion.number).where(PolicyVersion.institution_id == institution_id)
        )
        assert sorted(numbers) == [1, 2]
        assert s.get(Semester, sem_id).policy_version_id is not None
    zhang = page(qc, client, f"/policy/person/{ids['L002']}?semester={sem_id}")
    assert "2/2" in zhang  # O-1 still asks 2 under the semester's own version
