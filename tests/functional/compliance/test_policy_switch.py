"""A corrected policy applied to a running semester (issue 11 §10): the preview of what changes (rules,
compliance before and after, whose standing moves), the audited switch, the old version kept for what was
issued under it, and only the quality center may do it.

The college, counted by hand: 王校长 (school_leader, O-1 "at least 2") has 1 submitted record; 李处长
(head_hr, O-7 "at least 4") has 3; 赵部长 (head_propaganda, O-8 "at least 1 of a 思政 course") has none.
Under the shipped policy (version 1) all three are short: 0 of 3 meet their observation duties. Version
2 corrects O-1 to 1 and O-7 to 3, drops O-8 and adds O-7b (head_academic_affairs, held by nobody):
王校长 1/1 and 李处长 3/3 meet theirs, 赵部长 has no observation duty left — 2 of 2.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.compliance.models import PolicySwitch
from lti_tool.compliance.policy_switch import PolicySwitchService
from lti_tool.compliance.services import ComplianceService
from lti_tool.directory.models import Person
from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import default_policy_text
from lti_tool.policy.store import PolicyStore
from lti_tool.reports.models import StatisticsSnapshot
from lti_tool.reports.statistics import StatisticsService
from lti_tool.timetable.models import Semester
from tests.support import factories
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser

QC_USER = LmsUser("qc-1", "质控中心", "qc@jti.edu.cn", "Q001", [ROLE_INSTRUCTOR])
LEADER_USER = LmsUser("l-1", "王校长", "l@jti.edu.cn", "L001", [ROLE_INSTRUCTOR])


def corrected_policy() -> str:
    text = default_policy_text()
    text = re.sub(
        r'(id = "O-1"\nkind = "min_count"\npositions = \[[^\]]*\]\n)count = 2', r"\1count = 1", text
    )
    text = re.sub(
        r'(id = "O-7"\nkind = "min_count"\npositions = \[[^\]]*\]\n)count = 4', r"\1count = 3", text
    )
    o8 = re.search(r'\[\[rules\]\]\nid = "O-8".*?(?=\n\[\[rules\]\])', text, re.S)
    assert o8 is not None
    added = (
        '[[rules]]\nid = "O-7b"\nkind = "min_count"\npositions = ["head_academic_affairs"]\ncount = 1\n'
        'source = "补充：教务处负责人每学期至少听课1次"'
    )
    return text.replace(o8.group(0), added)


@pytest.fixture
def college(session_factory, institution_id):  # type: ignore[no-untyped-def]
    return build_college(session_factory, institution_id)


def build_college(session_factory, institution_id: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """The hand-counted college; (semester id, version 1 id, version 2 id)."""
    today = clock.today()
    with session_factory.begin() as s:
        v1 = PolicyStore(s, institution_id).ensure_version()
        qc_unit = factories.unit(
            s, institution_id, "教学质量监控与评价中心", kind="department", function="quality_center"
        )
        factories.person(s, institution_id, "质控中心", employee_no="Q001", unit=qc_unit)
        leader = factories.person(
            s, institution_id, "王校长", employee_no="L001", positions=["school_leader"]
        )
        hr = factories.person(s, institution_id, "李处长", employee_no="L002", positions=["head_hr"])
        factories.person(s, institution_id, "赵部长", employee_no="L003", positions=["head_propaganda"])
        monday = today - dt.timedelta(days=today.weekday() + 21)
        semester = factories.semester(s, institution_id, "2026-2027-1", week1_monday=monday, weeks=18)
        teacher = factories.person(s, institution_id, "授课教师", employee_no="T001")
        section = factories.section(s, semester, factories.course(s, institution_id, "高等数学"), [teacher])
        for n, who in enumerate([leader, hr, hr, hr]):
            session = factories.class_session(s, section, monday + dt.timedelta(days=7 * (n // 2) + n % 2))
            factories.observation(s, session, who)
        ComplianceService(s, institution_id).evaluate(semester)  # the semester takes version 1
        v2 = PolicyStore(s, institution_id).upload(corrected_policy(), None)
        return semester.id, v1.id, v2.id


def test_the_preview_shows_rules_and_compliance_before_and_after(session_factory, institution_id, college):
    semester_id, v1, v2 = college
    with session_factory() as s:
        preview = PolicySwitchService(s, institution_id).preview(semester_id)
        assert (preview.current.id, preview.target.id) == (v1, v2)
        changes = {c.rule_id: (c.change, c.fields) for c in preview.rules}
        assert changes == {
            "O-1": ("changed", ("count",)),
            "O-7": ("changed", ("count",)),
            "O-7b": ("added", ()),
            "O-8": ("removed", ()),
        }
        observation = [r for r in preview.standings if r.rule_id.startswith("O-")]
        assert [(c.name, c.rule_id, c.before, c.after) for c in observation] == [
            ("王校长", "O-1", "short", "ok"),
            ("李处长", "O-7", "short", "ok"),
            ("赵部长", "O-8", "short", "absent"),
        ]
        assert [(c.before_done, c.before_required, c.after_done, c.after_required) for c in observation] == [
            (1, 2, 1, 1),
            (3, 4, 3, 3),
            (0, 1, None, None),
        ]
        before = ComplianceService(s, institution_id).evaluate(
            s.get(Semester, semester_id), system="observation"
        )
        after = ComplianceService(s, institution_id).evaluate(
            s.get(Semester, semester_id), system="observation", under_version=v2
        )
        assert (before.summary.persons, before.summary.compliant) == (3, 0)
        assert (after.summary.persons, after.summary.compliant) == (2, 2)
        assert s.get(Semester, semester_id).policy_version_id == v1  # a preview changes nothing


def test_the_switch_is_audited_and_recomputes_compliance(session_factory, institution_id, college):
    semester_id, v1, v2 = college
    with session_factory.begin() as s:
        issued = StatisticsService(s, institution_id).compute(s.get(Semester, semester_id))
        StatisticsService(s, institution_id).store(issued, v1, frozen=True)
    with session_factory() as s:
        snapshot_before = s.scalars(select(StatisticsSnapshot)).one()
        issued_data, issued_version = snapshot_before.data, snapshot_before.policy_version_id
    qc = person_id(session_factory, "Q001")
    with session_factory.begin() as s:
        row = PolicySwitchService(s, institution_id).apply(semester_id, v2, v1, " 教务处更正了O-1和O-7 ", qc)
        assert row.id is not None
    with session_factory() as s:
        audit = s.scalars(select(PolicySwitch)).one()
        assert (audit.semester_id, audit.from_version_id, audit.to_version_id) == (semester_id, v1, v2)
        assert audit.person_id == qc and audit.reason == "教务处更正了O-1和O-7" and audit.at is not None
        assert audit.standings[0] == ["observation", 0, 3, 2, 2]
        assert audit.standings[-1][0] == "all"
        semester = s.get(Semester, semester_id)
        assert semester.policy_version_id == v2
        report = ComplianceService(s, institution_id).evaluate(semester, system="observation")
        assert (report.summary.persons, report.summary.compliant) == (2, 2)
        # what was issued under version 1 keeps it: the snapshot, and the version itself
        snapshot = s.scalars(select(StatisticsSnapshot)).one()
        assert (snapshot.data, snapshot.policy_version_id) == (issued_data, issued_version)
        assert s.get(PolicyVersion, v1) is not None


def person_id(session_factory, employee_no: str) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return s.scalars(select(Person.id).where(Person.employee_no == employee_no)).one()


def test_refusals(session_factory, institution_id, college):
    semester_id, v1, v2 = college
    with session_factory() as s:
        service = PolicySwitchService(s, institution_id)
        with pytest.raises(Exception, match="Say why"):
            service.apply(semester_id, v2, v1, "  ", None)
        with pytest.raises(Exception, match="changed since the preview"):
            service.apply(semester_id, v2, v2, "理由", None)
        s.get(Semester, semester_id).status = "archived"
        with pytest.raises(Exception, match="archived"):
            service.apply(semester_id, v2, v1, "理由", None)
        s.rollback()
    with session_factory() as s:
        assert s.get(Semester, semester_id).policy_version_id == v1
        assert s.scalars(select(PolicySwitch)).all() == []


def test_the_pages_for_the_quality_center_only(session_factory, institution_id, college, launcher, client):
    semester_id, v1, v2 = college
    leader = launcher.launch(LEADER_USER)
    assert leader.get(client, "/policy/switch").status_code == 403
    assert leader.get(client, f"/policy/switch/{semester_id}").status_code == 403
    home = leader.get(client, "/home").get_data(as_text=True)
    forged = client.post(
        f"/policy/switch/{semester_id}?s={leader.token}",
        data={"csrf": csrf_of(home), "from_version": v1, "to_version": v2, "reason": "x", "confirm": "1"},
    )
    assert forged.status_code == 403

    qc = launcher.launch(QC_USER)
    policy_page = qc.get(client, "/policy/rules").get_data(as_text=True)
    assert 'id="switch-link"' in policy_page
    index = qc.get(client, "/policy/switch")
    assert index.status_code == 200 and f"/policy/switch/{semester_id}" in index.get_data(as_text=True)
    preview = qc.get(client, f"/policy/switch/{semester_id}")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    observing = re.search(r'<tr data-system="observation">.*?</tr>', text, re.S)
    assert observing and ">0/3<" in observing.group(0) and ">2/2<" in observing.group(0)
    assert 'id="rule-O-8"' in text and 'id="rule-O-7b"' in text
    form = {"csrf": csrf_of(text), "from_version": v1, "to_version": v2, "reason": "更正"}
    unconfirmed = client.post(f"/policy/switch/{semester_id}?s={qc.token}", data=form)
    assert unconfirmed.status_code == 422 and 'id="switch-error"' in unconfirmed.get_data(as_text=True)
    done = client.post(f"/policy/switch/{semester_id}?s={qc.token}", data=form | {"confirm": "1"})
    assert done.status_code == 303
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="switched"' in after and "更正" in after and "质控中心" in after  # why, and who
    assert "听课 0/3 → 2/2" in after  # observing classes: 0 of 3 → 2 of 2
    with session_factory() as s:
        assert s.get(Semester, semester_id).policy_version_id == v2
    stale = client.post(f"/policy/switch/{semester_id}?s={qc.token}", data=form | {"confirm": "1"})
    assert stale.status_code == 409  # the preview it came from is out of date


def csrf_of(html: str) -> str:
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match
    return match.group(1)
