"""The contact duties through real LTI launches: a leader's duty page with its next steps and the year-end
summary; the school office's dashboard, drill-down and the summaries it receives; the organization
department reading the same, without the office's actions. The college is ``contacts_world``'s, loaded into
the launched institution, plus 郑 (vp_ideology), who holds 汽车工程学院 for 2026-2027 and has not visited
it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lti_tool.contacts.models import ContactPoint
from lti_tool.directory.models import Person, Unit
from tests.support import factories as f
from tests.support.launch import Launcher, LaunchResult
from tests.support.platform import ROLE_LEARNER, LmsUser
from tests.support.worlds import contacts_world

OFFICE = LmsUser("xb-1", "学校办公室", "xb@jti.edu.cn", "X001", [ROLE_LEARNER])
ORG = LmsUser("org-1", "组织部", "org@jti.edu.cn", "Z001", [ROLE_LEARNER])
ZHENG = LmsUser("zheng-1", "郑副校长", "", "L009", [ROLE_LEARNER])
ZHAO = LmsUser("zhao-1", "赵院长", "", "H001", [ROLE_LEARNER])


@pytest.fixture
def college(session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        world = contacts_world(s, institution_id=institution_id)
        office = f.unit(
            s, institution_id, "学校办公室", kind="department", code="XB", function="school_office"
        )
        org = f.unit(s, institution_id, "党委组织部", kind="department", code="ZZB", function="organization")
        f.person(s, institution_id, "学校办公室", employee_no="X001", unit=office)
        f.person(s, institution_id, "组织部", employee_no="Z001", unit=org)
        zheng = f.person(s, institution_id, "郑副校长", employee_no="L009", positions=["vp_ideology"])
        auto = s.scalars(select(Unit).where(Unit.institution_id == institution_id, Unit.code == "QC")).one()
        point = ContactPoint(
            institution_id=institution_id,
            person_id=zheng.id,
            academic_year="2026-2027",
            kind="college",
            unit_id=auto.id,
        )
        s.add(point)
        s.flush()
        ids = dict(
            s.execute(
                select(Person.employee_no, Person.id).where(Person.institution_id == institution_id)
            ).all()
        )
        return world.semester.id, ids, point.id


def page(result: LaunchResult, client, path: str, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    response = result.get(client, path)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:2000]
    return text


def csrf_of(html: str) -> str:
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match
    return match.group(1)


def test_duty_page_shows_both_systems_and_the_next_step(launcher: Launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, ids, point_id = college
    zheng = launcher.launch(ZHENG)
    html = page(zheng, client, f"/policy/me?semester={sem_id}")
    assert "我的职责" in html and "听课（听课制度）" in html and "联系基层（联系基层制度）" in html
    assert 'id="rule-O-1"' in html and 'id="rule-C-1b"' in html
    # C-1b: 0/2, the contacted college not visited yet, with the record form prefilled with the point
    assert "本学期尚未到汽车工程学院调研" in html
    assert f"/contacts/new?kind=visit&amp;contact_point_id={point_id}&amp;target_kind=college" in html
    # C-4: the lecture still owed, with the form prefilled with its kind
    assert "/contacts/new?kind=lecture" in html
    # C-7b: not due in the autumn; the summary page is one click away, and its bar is empty, not full
    assert "/contacts/summary/" in html
    c7b = html[html.index('id="rule-C-7b"') :]
    assert re.search(r'<progress class="duty na" max="100" value="0"', c7b[: c7b.index("</progress>") + 11])
    # the deadline as the pages write days (not the ISO form the engine keeps in the row)
    c7b_text = c7b[: c7b.index("</section>")]
    assert "2027年7月15日" in c7b_text and "2027-07-15" not in c7b_text, c7b_text


def test_branch_activity_step_and_own_branch(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, ids, _ = college
    zhao = launcher.launch(ZHAO)
    html = page(zhao, client, f"/policy/me?semester={sem_id}")
    c3b = html[html.index('id="rule-C-3b"') :]
    c3b = c3b[: c3b.index("</section>")]
    assert "0/1" in c3b and "/contacts/new?kind=branch_activity&amp;target_kind=party_branch" in c3b


def test_summary_draft_save_submit_and_receive(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, ids, _ = college
    zheng = launcher.launch(ZHENG)
    html = page(zheng, client, "/contacts/summary/?year=2026-2027")
    assert "2026-2027学年共记录联系基层活动0次" in html  # drafted from the records (郑 has none)
    csrf = csrf_of(html)
    fields = {
        "activities": "本学年到汽车工程学院调研……",
        "opinions": "",
        "problems": "",
        "reflection": "加强调研。",
    }
    saved = client.post(
        f"/contacts/summary/?year=2026-2027&s={zheng.token}", data={"csrf": csrf, "version": "0", **fields}
    )
    assert saved.status_code == 303
    stale = client.post(
        f"/contacts/summary/?year=2026-2027&s={zheng.token}", data={"csrf": csrf, "version": "0", **fields}
    )
    assert stale.status_code == 409  # an older tab loses, nothing overwritten
    submitted = client.post(
        f"/contacts/summary/?year=2026-2027&s={zheng.token}",
        data={"csrf": csrf, "version": "1", "action": "submit", **fields},
    )
    assert submitted.status_code == 303
    after = client.post(
        f"/contacts/summary/?year=2026-2027&s={zheng.token}", data={"csrf": csrf, "version": "2", **fields}
    )
    assert after.status_code == 409  # submitted: no longer changed
    duty = page(zheng, client, f"/policy/me?semester={sem_id}")
    c7b = duty[duty.index('id="rule-C-7b"') :]
    assert "已于" in c7b[: c7b.index("</section>")]

    office = launcher.launch(OFFICE)
    listing = page(office, client, "/contacts/summary/all?year=2026-2027")
    assert "郑副校长" in listing and "赵院长" in listing
    summary_id = re.search(r"/contacts/summary/(\d+)[?\"]", listing.split("郑副校长")[0][-300:] + listing)
    assert summary_id
    ocsrf = csrf_of(listing)
    sid = [m for m in re.findall(r"/contacts/summary/(\d+)", listing)]
    shown = [page(office, client, f"/contacts/summary/{n}") for n in sid]
    target = next(n for n, h in zip(sid, shown, strict=True) if "加强调研" in h)
    received = client.post(f"/contacts/summary/{target}/receive?s={office.token}", data={"csrf": ocsrf})
    assert received.status_code == 303
    assert "学校办公室已接收" in page(office, client, f"/contacts/summary/{target}")

    org = launcher.launch(ORG)
    assert "加强调研" in page(org, client, f"/contacts/summary/{target}")
    forbidden = client.post(
        f"/contacts/summary/{target}/return?s={org.token}", data={"csrf": csrf_of(listing)}
    )
    assert forbidden.status_code == 403


def test_school_office_sees_contact_compliance_and_drills_down(launcher, client, college):  # type: ignore[no-untyped-def]
    sem_id, ids, _ = college
    office = launcher.launch(OFFICE)
    html = page(office, client, f"/policy/?semester={sem_id}")
    assert 'aria-current="page">联系基层' in html  # the office's own system first
    for rule in ("C-1a", "C-1b", "C-2a", "C-3b", "C-5", "C-7b"):
        assert f">{rule}<" in html
    assert ">O-1<" not in html
    # no tab to the policy page, which is the quality center's and the organization department's (no 403)
    assert "/policy/rules" not in html
    page(office, client, "/policy/rules", 403)
    drill = page(office, client, f"/policy/person/{ids['L003']}?semester={sem_id}")
    assert "轨道交通学院" in drill and 'value="contact_archive"' in drill
    assert "/contacts/new" not in drill  # next-step buttons are the leader's, not the office's
    org = launcher.launch(ORG)
    ro = page(org, client, f"/policy/?semester={sem_id}&system=contact")
    assert "仅可查看" in ro and ">C-1a<" in ro
