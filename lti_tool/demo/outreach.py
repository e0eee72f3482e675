"""Demo reception days, letters to the school leaders and congress proposals (issue 12 §8), built through the
outreach services so every page has something to show on first launch:

- the division of work of the current academic year (each school leader in charge of some areas);
- the current semester's reception roster, one school leader per teaching week; every week that has ended is
  recorded — visitors with their matters and answers, one "no visitors", follow-ups routed to units as
  problems — except two, which show as not recorded (C-6a short for their leaders);
- letters in every state: waiting to be screened, closed as a duplicate or as not for the leaders, with a
  leader (one overdue), with a unit (one overdue), an answer to check, answered; some anonymous; one from a
  student who is not on the roster (linked to the demo LMS's student when it registers:
  ``link_demo_student``);
- a staff-congress session whose proposals are in every state (received, declined, with the unit, overdue,
  answered, released, satisfied, basically satisfied, sent back once as not satisfied) and a student-congress
  session.

Nothing is built twice: a semester that already has a roster, or an institution with letters, is kept.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.academic_year import academic_year_of
from lti_tool.db import utcnow
from lti_tool.directory.models import Person, PlatformUser, PositionHolding, Unit, UnitFunction, UnitKind
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import Acting
from lti_tool.outreach.letters import LetterService
from lti_tool.outreach.models import (
    CongressSession,
    FollowUp,
    FollowUpEvent,
    Letter,
    LetterChannel,
    Proposal,
    ReceptionDuty,
    week_bounds,
)
from lti_tool.outreach.proposals import ProposalService
from lti_tool.outreach.reception import ReceptionService, VisitInput
from lti_tool.policy.schema import Policy
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester

DEMO_STUDENT_SUB = "demo-student"
DEMO_STUDENT_NAME = "学生甲"
AREA_BY_POSITION = {
    "party_secretary": ("party_building", "personnel"),
    "president": ("finance",),
    "vp_teaching": ("teaching",),
    "vp_ideology": ("student_affairs", "security"),
    "vp_research": ("research",),
}
"""Which areas the demo gives each leader first (the rest go round the leaders)."""

VISITS = (
    (
        "student",
        "汽车工程学院",
        "宿舍热水时有时无",
        "希望尽快修复热水管路",
        "已请后勤处一周内检修",
        "solved",
        True,
    ),
    (
        "teacher",
        "道桥工程学院",
        "实训室设备老化",
        "建议列入下一年度设备更新计划",
        "已采纳，纳入预算申报",
        "adopted",
        False,
    ),
    (
        "retiree",
        "",
        "离退休人员体检安排",
        "希望体检时间提前通知",
        "说明了体检安排的时间和原因",
        "explained",
        False,
    ),
    ("staff", "后勤处", "食堂员工排班", "希望增加周末轮休", "已协调后勤处调整排班", "solved", True),
    (
        "student",
        "信息工程学院",
        "图书馆座位不足",
        "希望考试周延长开放时间",
        "已采纳，考试周延长至22:30",
        "adopted",
        False,
    ),
    (
        "teacher",
        "马克思主义学院",
        "青年教师培训",
        "希望增加教学能力培训",
        "说明了本学期培训计划",
        "explained",
        False,
    ),
)
# (subject, text, area of the division of work, code of the department the leader hands it to)
LETTERS = (
    ("希望增加教学楼饮水机", "教学楼三楼以上没有饮水机，学生课间打水很不方便。", "logistics", "LOG"),
    ("关于实训课时安排的建议", "部分专业实训课集中在学期末，建议均衡安排到整个学期。", "teaching", "AA"),
    ("校园夜间照明", "图书馆到宿舍的路段夜间照明不足，存在安全隐患。", "security", "SEC"),
    ("青年教师职称评审", "希望公开职称评审的评分细则，让青年教师心中有数。", "personnel", "HR"),
    ("学生社团活动场地", "社团活动场地紧张，希望开放部分教室晚间使用。", "student_affairs", "STU"),
    ("科研经费报销流程", "科研经费报销环节多、周期长，建议简化流程。", "research", "RES"),
    ("食堂价格", "近期食堂部分菜品涨价，希望说明原因。", "logistics", "LOG"),
    ("校园网速度", "宿舍区晚间校园网很慢，影响学习。", "logistics", "IT"),
    ("重复：食堂价格", "食堂菜品涨价问题，再次反映。", "logistics", "LOG"),
)
# (title, content, code of the department that handles it)
PROPOSALS = (
    ("增加教职工停车位", "校内停车位不足，建议在体育馆东侧增设停车场。", "ASSET"),
    ("完善青年教师导师制", "为新入职教师配备教学导师，并纳入考核。", "HR"),
    ("提高实训耗材经费", "实训耗材经费多年未调整，建议按学生数增加。", "AA"),
    ("建设教职工活动中心", "建议利用旧图书馆改建教职工活动中心。", "ASSET"),
    ("优化课表编排", "减少教师一天内跨校区上课的情况。", "AA"),
    ("改善食堂就餐环境", "增加就餐座位，延长晚餐供应时间。", "LOG"),
    ("设立教学成果奖励", "对获得省级以上教学成果奖的团队给予奖励。", "AA"),
    ("加强校园绿化", "在新教学楼周边增加绿化。", "LOG"),
    ("提高课时费标准", "建议提高超课时部分的课时费标准。", "HR"),
)


def _spread_histories(session: Session, iid: int) -> None:
    """The demo makes every step of a letter or proposal now; its history reads as if it had happened: the
    first step on the day the letter was received (the congress was held), the next ones a day or two
    apart, and none after now (only the steps' times move: deadlines and answers stay as made)."""
    session.flush()
    inst = session.get(Institution, iid)
    now = utcnow()
    started = dict(
        session.execute(
            select(Letter.follow_up_id, Letter.received_on).where(Letter.institution_id == iid)
        ).all()
    ) | dict(
        session.execute(
            select(Proposal.follow_up_id, CongressSession.held_on)
            .join(CongressSession, CongressSession.id == Proposal.session_id)
            .where(Proposal.institution_id == iid)
        ).all()
    )
    events: dict[int, list[FollowUpEvent]] = {}
    for event in session.scalars(
        select(FollowUpEvent).where(FollowUpEvent.follow_up_id.in_(started)).order_by(FollowUpEvent.id)
    ):
        events.setdefault(event.follow_up_id, []).append(event)
    zone = clock.zone(inst)
    for fu_id, steps in events.items():
        first = dt.datetime.combine(started[fu_id], dt.time(9, 30), tzinfo=zone).astimezone(dt.UTC)
        span = max((now - first) / (len(steps) + 1), dt.timedelta(0))
        gap = min(dt.timedelta(days=2), span)
        for n, event in enumerate(steps):
            event.at = min(first + n * gap, now - (len(steps) - n) * dt.timedelta(minutes=1))


def _handling_unit(units: list[Unit], code: str) -> Unit:
    """The department a letter or proposal is about (its code in the demo catalog), else the first one."""
    return next((u for u in units if u.code == code), units[0])


def _people(session: Session, iid: int, function: str | None = None, kind: str | None = None) -> list[Person]:
    stmt = select(Person).join(Unit, Unit.id == Person.unit_id).where(Person.institution_id == iid)
    if function is not None:
        stmt = stmt.where(Unit.function == function)
    if kind is not None:
        stmt = stmt.where(Unit.kind == kind)
    return list(session.scalars(stmt.order_by(Person.employee_no)))


def build_outreach(
    session: Session, iid: int, policy: Policy, semester: Semester, today: dt.date, rng: random.Random
) -> str:
    """Build the demo's division of work, reception weeks, letters and proposals; returns what was made."""
    division = DivisionService(session, iid, policy)
    year = academic_year_of(today, policy.contact.academic_year_start)
    leaders = division.leaders(year)
    office = next(iter(_people(session, iid, UnitFunction.SCHOOL_OFFICE)), None)
    units = [
        u
        for u in session.scalars(
            select(Unit)
            .where(Unit.institution_id == iid, Unit.kind == UnitKind.DEPARTMENT)
            .order_by(Unit.code)
        )
        if u.function == UnitFunction.NONE and _member_of(session, u.id) is not None
    ]
    if not leaders or office is None or not units:
        return "skipped (no school leaders, school office or departments on the roster)"
    made = [_division(session, division, leaders, year)]
    made.append(_reception(session, iid, policy, semester, today, leaders, units, rng))
    if session.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.institution_id == iid)):
        made.append("letters and proposals: kept (some exist)")
        return "; ".join(made)
    made.append(_letters(session, iid, policy, today, leaders, office, units, rng))
    made.append(_proposals(session, iid, policy, semester, today, office, units, rng))
    _spread_histories(session, iid)
    return "; ".join(made)


def _division(session: Session, division: DivisionService, leaders: list[Person], year: str) -> str:
    held = division.portfolios(year)
    if held:
        return f"division of work {year}: kept"
    positions = {
        p.id: set(
            session.scalars(select(PositionHolding.position_code).where(PositionHolding.person_id == p.id))
        )
        for p in leaders
    }
    areas = division.area_codes()
    taken: dict[str, int] = {}
    for person in leaders:
        for code in sorted(positions[person.id]):
            for area in AREA_BY_POSITION.get(code, ()):
                if area in areas and area not in taken:
                    taken[area] = person.id
    rest = [a for a in areas if a not in taken]
    for i, area in enumerate(rest):
        taken[area] = leaders[i % len(leaders)].id
    for area, person_id in taken.items():
        division.set(year, area, person_id)
    return f"division of work {year}: {len(taken)} areas"


def _reception(
    session: Session,
    iid: int,
    policy: Policy,
    semester: Semester,
    today: dt.date,
    leaders: list[Person],
    units: list[Unit],
    rng: random.Random,
) -> str:
    exists = session.scalar(
        select(func.count()).select_from(ReceptionDuty).where(ReceptionDuty.semester_id == semester.id)
    )
    if exists:
        return "reception roster: kept"
    service = ReceptionService(session, iid, policy)
    order = list(leaders)
    rng.shuffle(order)
    for week in range(1, semester.weeks + 1):
        service.assign(semester, week, order[(week - 1) % len(order)].id, "行政楼201 校领导接待室")
    ended = [w for w in service.roster(semester) if w.end < today and w.duty is not None]
    missing = set(rng.sample([w.week for w in ended], k=min(2, len(ended))))
    quiet = next((w.week for w in ended if w.week not in missing), None)
    recorded = 0
    for w in ended:
        if w.week in missing or w.duty is None:
            continue
        record = service.open_record(w.duty, w.duty.person_id)
        day = min(w.start + dt.timedelta(days=2), today)
        service.update(
            record, w.duty.person_id, date=day.isoformat(), place=w.duty.place, no_visitors=w.week == quiet
        )
        if w.week != quiet:
            for identity, unit, matter, opinion, answer, outcome, follow in rng.sample(
                VISITS, k=rng.randint(1, 3)
            ):
                data = VisitInput(
                    visitor_name=rng.choice(["", "", "张同学", "李老师", "王师傅"]),
                    identity=identity,
                    visitor_unit=unit,
                    matter=matter,
                    opinion=opinion,
                    answer=answer,
                    outcome=outcome,
                )
                if follow:
                    data.follow_up_unit_id = str(rng.choice(units).id)
                    data.follow_up_category = "facilities" if identity == "student" else "other"
                    data.follow_up = f"请按答复意见落实：{answer}"
                service.add_visit(record, w.duty.person_id, data)
        service.submit(record, w.duty.person_id)
        recorded += 1
    return (
        f"reception roster {semester.code}: {semester.weeks} weeks, {recorded} recorded, "
        f"weeks {sorted(missing)} missing"
    )


def _letters(
    session: Session,
    iid: int,
    policy: Policy,
    today: dt.date,
    leaders: list[Person],
    office: Person,
    units: list[Unit],
    rng: random.Random,
) -> str:
    service = LetterService(session, iid, policy)
    staff = Acting(office.id, office=True)
    writers = [
        p
        for p in _people(session, iid, kind=UnitKind.COLLEGE)
        if not session.scalar(
            select(func.count()).select_from(PositionHolding).where(PositionHolding.person_id == p.id)
        )
    ][:10]
    year = academic_year_of(today, policy.contact.academic_year_start)
    letters: list[Letter] = []
    for i, (subject, body, _area, _unit) in enumerate(LETTERS):
        if i == 0:  # a student, not on the roster: their LMS identity once the demo LMS exists
            student = _demo_student(session, iid)
            if student is not None:
                letter = service.write(
                    person_id=None,
                    platform_user_id=student,
                    name=DEMO_STUDENT_NAME,
                    subject=subject,
                    body=body,
                    anonymous=False,
                )
            else:  # linked when the demo LMS registers (link_demo_student)
                letter = service.new_letter(
                    channel=LetterChannel.TOOL, subject=subject, body=body, anonymous=False, received_on=today
                )
                letter.writer_name = DEMO_STUDENT_NAME
        elif i in (3, 6) or not writers:
            letter = service.register(
                office.id,
                channel=rng.choice([LetterChannel.EMAIL, LetterChannel.PAPER]),
                subject=subject,
                body=body,
                writer_name="" if i == 6 else "某教师",
                writer_contact="",
                anonymous=i == 6,
                received_on=(today - dt.timedelta(days=20 - i)).isoformat(),
            )
        else:
            w = writers[i % len(writers)]
            letter = service.write(
                person_id=w.id,
                platform_user_id=None,
                name=w.name,
                subject=subject,
                body=body,
                anonymous=i in (2, 4),
            )
        letter.received_on = min(letter.received_on, today - dt.timedelta(days=20 - i))
        letters.append(letter)
    deadline = (today + dt.timedelta(days=policy.contact.letter_answer_days)).isoformat()

    def route(letter: Letter) -> FollowUp:
        area = next(a for s, _b, a, _u in LETTERS if s == letter.subject)
        leader = service.division.leader_for(area, year) or leaders[0]
        return service.route(letter, staff, area=area, leader=str(leader.id), deadline=deadline)

    def instruct(fu: FollowUp) -> None:
        assert fu.leader_id is not None
        unit = _handling_unit(units, next(u for s, _b, _a, u in LETTERS if s == fu.title))
        service.loop.instruct(fu, Acting(fu.leader_id), "请认真研究，按期答复来信人。", unit.id)

    def answer(fu: FollowUp, text: str) -> None:
        service.loop.answer(fu, Acting(_member_of(session, fu.unit_id)), text)

    # 0: the student's letter — answered and released
    fu = route(letters[0])
    instruct(fu)
    answer(fu, "已在教学楼三至五楼各增设饮水机两台，下周投入使用。")
    service.loop.release(fu, staff)
    # 1: answered, waiting for the office's check
    fu = route(letters[1])
    instruct(fu)
    answer(fu, "教务处已要求各专业在下学期均衡安排实训课时。")
    # 2 (anonymous): with the unit, overdue
    fu = route(letters[2])
    instruct(fu)
    fu.deadline = today - dt.timedelta(days=3)
    # 3: with the leader, overdue
    fu = route(letters[3])
    fu.deadline = today - dt.timedelta(days=2)
    # 4 (anonymous): with the leader, on time
    route(letters[4])
    # 5: with the unit, on time
    fu = route(letters[5])
    instruct(fu)
    # 6 (anonymous, paper): answered and released
    fu = route(letters[6])
    instruct(fu)
    answer(fu, "食堂部分菜品因原材料价格上涨调价，已增加平价窗口。")
    service.loop.release(fu, staff)
    # 7: waiting to be screened; 8: a duplicate of 6, closed with the reason
    service.screen_out(
        letters[8], staff, "duplicate", "与此前来信反映的食堂价格问题相同，已一并答复。", letters[6].id
    )
    session.flush()
    return f"letters: {len(letters)} (2 overdue, 3 anonymous, 1 from a student)"


def _member_of(session: Session, unit_id: int | None) -> int | None:
    return session.scalar(
        select(Person.id).where(Person.unit_id == unit_id).order_by(Person.employee_no).limit(1)
    )


def _demo_student(session: Session, iid: int) -> int | None:
    """The demo LMS's student (no roster entry), when the demo LMS is registered already."""
    return session.scalar(
        select(PlatformUser.id).where(
            PlatformUser.institution_id == iid, PlatformUser.lti_user_id == DEMO_STUDENT_SUB
        )
    )


def link_demo_student(session: Session, iid: int, platform_id: int) -> int:
    """When the demo LMS registers: its student becomes the writer of the demo's student letters, so they
    read the answer on "my letters" (the letters were built before the platform existed)."""
    user = session.scalars(
        select(PlatformUser).where(
            PlatformUser.platform_id == platform_id, PlatformUser.lti_user_id == DEMO_STUDENT_SUB
        )
    ).first()
    if user is None:
        user = PlatformUser(
            institution_id=iid,
            platform_id=platform_id,
            lti_user_id=DEMO_STUDENT_SUB,
            name=DEMO_STUDENT_NAME,
            email="student@demo.invalid",
            last_launch_at=clock.utcnow(),
        )
        session.add(user)
        session.flush()
    letters = session.scalars(
        select(Letter).where(
            Letter.institution_id == iid,
            Letter.channel == LetterChannel.TOOL,
            Letter.writer_person_id.is_(None),
            Letter.writer_platform_user_id.is_(None),
            Letter.writer_name == DEMO_STUDENT_NAME,
        )
    ).all()
    for letter in letters:
        letter.writer_platform_user_id = user.id
    return len(letters)


def _proposals(
    session: Session,
    iid: int,
    policy: Policy,
    semester: Semester,
    today: dt.date,
    office: Person,
    units: list[Unit],
    rng: random.Random,
) -> str:
    service = ProposalService(session, iid, policy)
    staff = Acting(office.id, office=True)
    held = min(week_bounds(semester.week1_monday, 3)[0], today)
    congress = service.create_session(
        body="staff", number=2, title="第五届教职工代表大会第二次会议", held_on=held.isoformat()
    )
    teachers = [p for p in _people(session, iid, kind=UnitKind.COLLEGE)][:12]
    proposals = []
    for i, (title, content, _unit) in enumerate(PROPOSALS):
        proposer = teachers[i % len(teachers)] if teachers else None
        proposals.append(
            service.register(
                congress,
                office.id,
                proposer_name=proposer.name if proposer else "代表",
                proposer_employee_no=proposer.employee_no if proposer else "",
                cosigners="、".join(t.name for t in rng.sample(teachers, k=min(3, len(teachers)))),
                title=title,
                content=content,
            )
        )
    deadline = (today + dt.timedelta(days=policy.contact.proposal_answer_days)).isoformat()

    def accept(p: Proposal, code: str = "") -> FollowUp:
        code = code or next(u for t, _c, u in PROPOSALS if t == p.title)
        return service.accept(p, staff, unit=_handling_unit(units, code).id, helpers=[], deadline=deadline)

    def answer(fu: FollowUp, text: str) -> None:
        service.loop.answer(fu, Acting(_member_of(session, fu.unit_id)), text)

    def by_proposer(p: Proposal) -> Acting:
        return service.acting(p, p.proposer_id, office=p.proposer_id is None)

    # 0: received (waiting for acceptance); 8: declined with the reason
    service.decline(proposals[8], staff, "属薪酬分配政策，已转人事处在修订绩效方案时统筹研究。")
    # 1: with the unit; 2: with the unit, overdue
    accept(proposals[1])
    fu = accept(proposals[2])
    fu.deadline = today - dt.timedelta(days=5)
    # 3: answered, to check
    fu = accept(proposals[3])
    answer(fu, "已完成旧图书馆改造的可行性论证，拟列入明年建设计划。")
    # 4: released, waiting for the proposer's view
    fu = accept(proposals[4])
    answer(fu, "教务处已调整排课规则，同一教师一天内不跨校区排课。")
    service.loop.release(fu, staff)
    # 5: satisfied; 6: basically satisfied
    for p, text, view in (
        (proposals[5], "食堂新增座位120个，晚餐延长至19:30。", "satisfied"),
        (proposals[6], "教学成果奖励办法已起草，提交校长办公会审议。", "basic"),
    ):
        fu = accept(p)
        answer(fu, text)
        service.loop.release(fu, staff)
        service.satisfaction(p, by_proposer(p), view)
    # 7: not satisfied with the first answer: back with the unit for a second round
    fu = accept(proposals[7])
    answer(fu, "将在明年春季植树。")
    service.loop.release(fu, staff)
    service.satisfaction(
        proposals[7], by_proposer(proposals[7]), "unsatisfied", "答复过于笼统，希望明确绿化方案和时间。"
    )
    student = service.create_session(
        body="student", number=12, title="第十二次学生代表大会", held_on=held.isoformat()
    )
    for title, content, code in (
        ("增加自习室", "考试周自习室座位紧张。", "AA"),
        ("丰富体育场馆开放时间", "希望周末开放体育馆。", "LOG"),
    ):
        p = service.register(
            student,
            office.id,
            proposer_name="学生代表",
            proposer_employee_no="",
            cosigners="",
            title=title,
            content=content,
        )
        accept(p, code)
    session.flush()
    return f"proposals: {len(proposals)} + 2 (every state)"


__all__ = ["build_outreach", "link_demo_student"]
