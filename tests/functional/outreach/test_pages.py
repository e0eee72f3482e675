"""Division of work, reception days, letters and proposals through real launches (issue 12 §1–4, §9).

The college: the school office (X001), two school leaders (王 in charge of teaching, 李), the academic
affairs office's handler (J001), a teacher who is also a congress proposer (T001), and students who are not
on the roster and launch as Learners. Every step goes through the pages with each persona's own session.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select, update

from lti_tool.outreach.models import (
    CongressSession,
    FollowUp,
    Letter,
    Proposal,
    ReceptionDuty,
    ReceptionVisit,
)
from lti_tool.problems.models import Problem
from tests.conftest import make_institution
from tests.support import factories as f
from tests.support import worlds
from tests.support.launch import Launcher, LaunchResult
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser

OFFICE = LmsUser("xb-1", "办公室干事", "", "X001", [ROLE_LEARNER])
WANG = LmsUser("wang-1", "王副校长", "", "L002", [ROLE_LEARNER])
LI = LmsUser("li-1", "李副校长", "", "L003", [ROLE_LEARNER])
HANDLER = LmsUser("jwc-1", "教务干事", "", "J001", [ROLE_LEARNER])
TEACHER = LmsUser("t-1", "周老师", "", "T001", [ROLE_INSTRUCTOR])
STUDENT = LmsUser("stu-1", "学生甲", "stu1@example.edu", "", [ROLE_LEARNER])
OTHER_STUDENT = LmsUser("stu-2", "学生乙", "stu2@example.edu", "", [ROLE_LEARNER])


@pytest.fixture
def college(session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return worlds.outreach_world(s, institution_id)


def page(result: LaunchResult, client, path: str, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    response = result.get(client, path)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:3000]
    return text


def post(result: LaunchResult, client, path: str, data: dict, status: int = 303):  # type: ignore[no-untyped-def]
    html = page(result, client, "/home")
    csrf = re.search(r'data-csrf="([^"]+)"', html)
    assert csrf
    sep = "&" if "?" in path else "?"
    response = client.post(f"{path}{sep}s={result.token}", data={"csrf": csrf.group(1), **data})
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return response


def panel(html: str, panel_id: str) -> str:
    start = html.index(f'id="{panel_id}"')
    return html[start : html.index("</section>", start)]


def count(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_students_letter_through_every_hand(
    college, launcher: Launcher, client, session_factory, institution_id
) -> None:  # type: ignore[no-untyped-def]
    student = launcher.launch(STUDENT)
    home = page(student, client, "/home")
    assert "写信给校领导" in home or "致校领导" in home  # the learner's home offers the letter
    assert "/outreach/letters/new" in home
    # bad input: nothing stored, a message that names the field
    refused = post(student, client, "/outreach/letters/new", {"subject": "", "body": "x"}, status=422)
    assert "主题：请填写。" in refused.get_data(as_text=True)
    assert count(session_factory, Letter) == 0
    post(
        student,
        client,
        "/outreach/letters/new",
        {"subject": "图书馆开放时间", "body": "希望考试周图书馆延长开放到23点。", "anonymous": "yes"},
    )
    with session_factory() as s:
        letter = s.scalars(select(Letter)).one()
        fu_id, letter_id = letter.follow_up_id, letter.id
    assert "图书馆开放时间" in page(student, client, "/outreach/letters")

    # the school office sees the writer, screens and routes by the division of work
    office = launcher.launch(OFFICE)
    post(
        office,
        client,
        "/outreach/office/division",
        {"year": _year(college), "leader-teaching": str(college["wang"])},
    )
    listing = page(office, client, "/outreach/office/letters?show=screening")
    assert "图书馆开放时间" in listing
    item = page(office, client, f"/outreach/items/{fu_id}")
    assert "学生甲" in item and "仅学校办公室可见" in item
    deadline = (college["today"] + dt.timedelta(days=10)).isoformat()
    post(
        office,
        client,
        f"/outreach/items/{fu_id}/accept",
        {"area": "teaching", "leader": "auto", "deadline": deadline},
    )

    # the leader in charge: the writer is hidden; the instruction names the unit
    with session_factory.begin() as s:  # units a letter does not go to: not offered
        f.unit(s, institution_id, "教务处党支部", kind="party_branch", code="JWC-DZB")
        f.unit(s, institution_id, "数学教研室", kind="teaching_office", code="SX-JYS")
    wang = launcher.launch(WANG)
    assert "图书馆开放时间" in page(wang, client, "/outreach/leader/letters")
    item = page(wang, client, f"/outreach/items/{fu_id}")
    assert "学生甲" not in item and "stu1@example.edu" not in item and "匿名" in item
    assert f'<option value="{college["jwc"]}"' in item
    assert "教务处党支部" not in item and "数学教研室" not in item
    post(
        wang,
        client,
        f"/outreach/items/{fu_id}/instruct",
        {"instruction": "请教务处会同图书馆研究。", "unit": str(college["jwc"])},
    )
    li = launcher.launch(LI)  # another leader has no part in it
    page(li, client, f"/outreach/items/{fu_id}", status=404)
    post(li, client, f"/outreach/items/{fu_id}/answer", {"answer": "x"}, status=404)

    # the unit answers; it does not see the writer either
    handler = launcher.launch(HANDLER)
    assert "图书馆开放时间" in page(handler, client, "/outreach/unit")
    item = page(handler, client, f"/outreach/items/{fu_id}")
    assert "学生甲" not in item and "请教务处会同图书馆研究。" in item
    post(handler, client, f"/outreach/items/{fu_id}/answer", {"answer": "考试周图书馆开放至22:30。"})
    # the student sees no answer before the office releases it
    assert "22:30" not in page(student, client, f"/outreach/letters/{letter_id}")
    post(office, client, f"/outreach/items/{fu_id}/release", {"answer": "考试周图书馆开放至22:30。"})
    mine = page(student, client, f"/outreach/letters/{letter_id}")
    assert "考试周图书馆开放至22:30。" in mine
    with session_factory() as s:
        fu = s.get(FollowUp, fu_id)
        assert fu.status == "closed" and fu.outcome == "answered"

    # another student: not in their list, not reachable by id
    other = launcher.launch(OTHER_STUDENT)
    assert "图书馆开放时间" not in page(other, client, "/outreach/letters")
    page(other, client, f"/outreach/letters/{letter_id}", status=404)
    page(other, client, f"/outreach/items/{fu_id}", status=404)
    # the student is not the office: the office's pages are closed
    page(student, client, "/outreach/office/letters", status=403)


def _year(college) -> str:  # type: ignore[no-untyped-def]
    today = college["today"]
    first = today.year if today.month >= 8 else today.year - 1
    return f"{first}-{first + 1}"


def test_a_proposal_goes_back_once_and_the_session_shows_every_state(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    office = launcher.launch(OFFICE)
    post(
        office,
        client,
        "/outreach/office/congress",
        {
            "body": "staff",
            "number": "5",
            "title": "第五届教职工代表大会第三次会议",
            "held_on": college["today"].isoformat(),
        },
    )
    refused = post(
        office,
        client,
        "/outreach/office/congress",
        {"body": "staff", "number": "五", "title": "x", "held_on": "2026-01-01"},
        status=422,
    )
    assert "届次编号" in refused.get_data(as_text=True)
    with session_factory() as s:
        session_id = s.scalars(select(CongressSession.id)).one()
    for title, employee_no in (("增加教工停车位", "T001"), ("食堂延长供餐", ""), ("提高课时费", "")):
        post(
            office,
            client,
            f"/outreach/office/congress/{session_id}/proposals",
            {
                "proposer_name": "周老师" if employee_no else "某代表",
                "proposer_employee_no": employee_no,
                "cosigners": "甲、乙",
                "title": title,
                "content": "……",
            },
        )
    with session_factory() as s:
        ids = {p.title: p.follow_up_id for p in s.scalars(select(Proposal))}
    deadline = (college["today"] + dt.timedelta(days=30)).isoformat()
    post(
        office,
        client,
        f"/outreach/items/{ids['增加教工停车位']}/accept",
        {"unit": str(college["jwc"]), "deadline": deadline},
    )
    post(
        office,
        client,
        f"/outreach/items/{ids['食堂延长供餐']}/accept",
        {"unit": str(college["jwc"]), "deadline": deadline},
    )
    post(
        office,
        client,
        f"/outreach/items/{ids['提高课时费']}/close",
        {"outcome": "declined", "reason": "属薪酬政策，转人事处答复"},
    )
    listing = page(office, client, f"/outreach/office/congress/{session_id}")
    assert "待承办单位办理" in listing and "不予立案" in listing and "2件尚未答复" in listing

    handler = launcher.launch(HANDLER)
    post(handler, client, f"/outreach/items/{ids['增加教工停车位']}/answer", {"answer": "新增车位50个。"})
    post(office, client, f"/outreach/items/{ids['增加教工停车位']}/release", {"answer": "新增车位50个。"})
    teacher = launcher.launch(TEACHER)
    mine = page(teacher, client, "/outreach/letters")
    assert "增加教工停车位" in mine and "食堂延长供餐" not in mine  # only the teacher's own proposal
    item = page(teacher, client, f"/outreach/items/{ids['增加教工停车位']}")
    assert "新增车位50个。" in item and "您对答复是否满意" in item
    post(
        teacher,
        client,
        f"/outreach/items/{ids['增加教工停车位']}/satisfaction",
        {"satisfaction": "unsatisfied", "note": ""},
        status=422,
    )
    post(
        teacher,
        client,
        f"/outreach/items/{ids['增加教工停车位']}/satisfaction",
        {"satisfaction": "unsatisfied", "note": "车位仍不够"},
    )
    assert "二次办理" in page(office, client, f"/outreach/items/{ids['增加教工停车位']}")
    post(handler, client, f"/outreach/items/{ids['增加教工停车位']}/answer", {"answer": "再增加30个车位。"})
    post(office, client, f"/outreach/items/{ids['增加教工停车位']}/release", {"answer": "再增加30个车位。"})
    post(teacher, client, f"/outreach/items/{ids['增加教工停车位']}/satisfaction", {"satisfaction": "basic"})
    listing = page(office, client, f"/outreach/office/congress/{session_id}")
    assert "基本满意" in listing and "1件尚未答复" in listing
    post(handler, client, f"/outreach/items/{ids['食堂延长供餐']}/answer", {"answer": "晚餐延长至19:30。"})
    post(office, client, f"/outreach/items/{ids['食堂延长供餐']}/release", {"answer": "晚餐延长至19:30。"})
    post(
        office, client, f"/outreach/items/{ids['食堂延长供餐']}/satisfaction", {"satisfaction": "satisfied"}
    )  # from the paper form
    assert "全部已答复" in page(office, client, f"/outreach/office/congress/{session_id}")


def test_overdue_letters_are_flagged_to_the_office_and_the_leader(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    office = launcher.launch(OFFICE)
    post(
        office,
        client,
        "/outreach/office/letters/new",
        {
            "channel": "paper",
            "received_on": college["today"].isoformat(),
            "writer_name": "退休教师张某",
            "subject": "老干部活动室",
            "body": "活动室空调损坏。",
        },
    )
    with session_factory() as s:
        fu_id = s.scalars(select(Letter.follow_up_id)).one()
    deadline = (college["today"] + dt.timedelta(days=3)).isoformat()
    post(
        office,
        client,
        f"/outreach/items/{fu_id}/accept",
        {"area": "logistics", "leader": str(college["li"]), "deadline": deadline},
    )
    assert "老干部活动室" not in page(office, client, "/outreach/office/letters?show=overdue")
    with session_factory.begin() as s:  # the deadline passes without the leader's instruction
        s.execute(
            update(FollowUp)
            .where(FollowUp.id == fu_id)
            .values(deadline=college["today"] - dt.timedelta(days=1))
        )
    assert "老干部活动室" in page(office, client, "/outreach/office/letters?show=overdue")
    assert "1 个已逾期" in panel(page(office, client, "/home"), "panel-outreach-office")
    li = launcher.launch(LI)
    assert "1 个已逾期" in panel(page(li, client, "/home"), "panel-outreach-leader")
    assert "已逾期" in page(li, client, "/outreach/leader/letters")
    # a letter never closes without a reason
    post(office, client, f"/outreach/items/{fu_id}/withdraw", {"reason": ""}, status=422)
    with session_factory() as s:
        assert s.get(FollowUp, fu_id).status == "with_leader"


def test_reception_roster_and_a_week_recorded_on_the_phone(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    office = launcher.launch(OFFICE)
    sem = college["semester"]
    roster = page(office, client, f"/outreach/office/reception?semester={sem}")
    assert "第18周" in roster and "18周未排定" in roster
    post(
        office,
        client,
        "/outreach/office/reception",
        {
            "semester": str(sem),
            "leader-1": str(college["li"]),
            "leader-3": str(college["wang"]),
            "leader-6": str(college["li"]),
            "place-6": "行政楼201",
        },
    )
    post(
        office,
        client,
        "/outreach/office/reception/swap",
        {"semester": str(sem), "week_a": "3", "week_b": "6"},
    )
    with session_factory() as s:
        weeks = {d.week: d.person_id for d in s.scalars(select(ReceptionDuty))}
    assert weeks == {1: college["li"], 3: college["li"], 6: college["wang"]}
    roster = page(office, client, f"/outreach/office/reception?semester={sem}")
    assert "2周未记录" in roster  # weeks 1 and 3 ended without a record
    # an import with a bad row stores nothing and names the row
    bad = client.post(
        f"/outreach/office/reception/import?s={office.token}",
        data={
            "csrf": _csrf(office, client),
            "semester": str(sem),
            "file": (io.BytesIO("周次,工号\n8,L002\n9,T001\n".encode()), "roster.csv"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "第 3 行" in bad.get_data(as_text=True)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ReceptionDuty)) == 3

    wang = launcher.launch(WANG)
    mine = page(wang, client, "/outreach/reception")
    assert "第 6 周" in mine and "记录本周接待" in mine
    with session_factory() as s:
        duty_id = s.scalars(select(ReceptionDuty.id).where(ReceptionDuty.week == 6)).one()
    post(wang, client, f"/outreach/reception/{duty_id}/open", {})
    post(
        wang,
        client,
        f"/outreach/reception/{duty_id}/visits",
        {"identity": "student", "matter": "", "answer": "x", "outcome": "solved"},
        status=422,
    )
    assert count(session_factory, ReceptionVisit) == 0
    post(
        wang,
        client,
        f"/outreach/reception/{duty_id}/visits",
        {
            "visitor_name": "",
            "identity": "student",
            "visitor_unit": "汽车工程学院",
            "matter": "宿舍热水不稳定",
            "opinion": "希望尽快修复",
            "answer": "已请后勤处一周内修复",
            "outcome": "solved",
            "follow_up_unit_id": str(college["jwc"]),
            "follow_up_category": "facilities",
            "follow_up": "检修热水管路",
        },
    )
    assert count(session_factory, Problem) == 0
    post(wang, client, f"/outreach/reception/{duty_id}/submit", {})
    with session_factory() as s:
        problem = s.scalars(select(Problem)).one()
        assert problem.unit_id == college["jwc"] and "检修热水管路" in problem.description
    assert "已记录" in page(wang, client, "/outreach/reception")
    # the duty page: C-6a for 王 is 1 of 1 (week 6 recorded); 李 misses weeks 1 and 3
    duty = page(wang, client, f"/policy/me?semester={sem}")
    assert 'id="rule-C-6a"' in duty
    li = launcher.launch(LI)
    duty = page(li, client, f"/policy/me?semester={sem}")
    c6a = duty[duty.index('id="rule-C-6a"') :]
    assert "未记录：第1、3周" in c6a[:3000]


def test_taking_a_leader_off_a_week_asks_first(college, launcher, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    office = launcher.launch(OFFICE)
    sem = str(college["semester"])
    post(office, client, "/outreach/office/reception", {"semester": sem, "leader-2": str(college["li"])})
    post(office, client, "/outreach/office/reception", {"semester": sem, "leader-7": str(college["wang"])})
    # week 2 set to nobody while week 8 gets a leader: nothing is stored until the office confirms
    form = {"semester": sem, "leader-2": "", "place-2": "", "leader-8": str(college["wang"])}
    asked = post(office, client, "/outreach/office/reception", form, status=200).get_data(as_text=True)
    assert "第 2 周" in asked and "李副校长" in asked and 'name="confirm" value="yes"' in asked
    with session_factory() as s:
        assert {d.week for d in s.scalars(select(ReceptionDuty))} == {2, 7}
    post(office, client, "/outreach/office/reception", {**form, "confirm": "yes"})
    with session_factory() as s:
        assert {d.week: d.person_id for d in s.scalars(select(ReceptionDuty))} == {
            7: college["wang"],
            8: college["wang"],
        }


def _csrf(result: LaunchResult, client) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'data-csrf="([^"]+)"', page(result, client, "/home"))
    assert match
    return match.group(1)


def test_another_institution_sees_nothing(college, launcher, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    other = make_institution(session_factory, "OTHER", "另一所学院")
    with session_factory.begin() as s:
        from lti_tool.outreach.letters import LetterService
        from lti_tool.policy.store import PolicyStore

        service = LetterService(s, other, PolicyStore(s, other).current())
        stranger = f.person(s, other, "外校教师", employee_no="X001")
        letter = service.write(
            person_id=stranger.id,
            platform_user_id=None,
            name="外校教师",
            subject="外校来信",
            body="外校内容",
            anonymous=False,
        )
        fu_id, letter_id = letter.follow_up_id, letter.id
    office = launcher.launch(OFFICE)
    assert "外校来信" not in page(office, client, "/outreach/office/letters?show=all")
    page(office, client, f"/outreach/items/{fu_id}", status=404)
    post(office, client, f"/outreach/items/{fu_id}/accept", {"area": "teaching"}, status=404)
    student = launcher.launch(STUDENT)
    page(student, client, f"/outreach/letters/{letter_id}", status=404)
