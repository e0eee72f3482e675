"""A year of contact points and a semester of contact records for the demo college (issue 9 §8).

Contact points go through the real importer (``contact-points.csv``, as the school office would import them):
each school leader holds one or two teaching colleges (one leader keeps last year's college: C-1a flags the
repetition), party members among them a branch of one of their colleges (one forgets: C-3a short), and every
college head a teaching office or lab and a student class of their own college (one head lacks the class:
C-2a short) plus, when a party member, a branch of their college other than their own (C-3b).

Contact records are written as the leaders would have written them on the form (submitted, group visits
with one member row per leader), dated from the semester's start to yesterday: most leaders visit their
colleges twice (some once: C-1b short), attend their branch's activity (some confirmed by the secretary,
some waiting, one confirmed on paper by the school office), give a 思政 or 形势政策 lecture; department heads
hold a symposium (one does not: C-5 short); colleges report to their contact leader (C-1c) and some reports
still wait for the leader's opinion. A few problems heard are routed to the responsible departments.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.academic_year import academic_year_of, previous_academic_year
from lti_tool.contacts.models import (
    BranchConfirmation,
    ContactMember,
    ContactPoint,
    ContactRecord,
    ContactRole,
    ContactStatus,
)
from lti_tool.demo.catalog import TEACHING_UNITS
from lti_tool.demo.roster import Roster
from lti_tool.directory.models import Person, StudentClass, Unit
from lti_tool.policy.schema import Policy
from lti_tool.problems.models import Problem, ProblemEvent, ProblemStatus

POINT_HEADERS = [
    ("employee_no", "工号"),
    ("academic_year", "学年"),
    ("kind", "类型"),
    ("target", "对象"),
    ("start", "开始"),
    ("end", "结束"),
]
KIND_ZH = {
    "college": "学院",
    "teaching_office": "教研室",
    "lab": "实验室",
    "student_class": "班级",
    "party_branch": "党支部",
    "dormitory": "宿舍",
    "club": "社团",
    "friend": "联系交友",
}

VISITS = [
    (
        "{college}会议室",
        "到{college}调研{topic}，听取学院班子和骨干教师的情况介绍，察看{place}。",
        "{opinion}",
    ),
    ("{place}", "深入{college}{place}，了解{topic}的进展，与一线教师交流实训教学安排。", "{opinion}"),
    (
        "{college}办公楼",
        "与{college}领导班子座谈，研究{topic}中存在的突出问题，提出下一步工作要求。",
        "{opinion}",
    ),
]
TOPICS = [
    "专业群建设",
    "实训基地建设",
    "“双高”建设任务推进",
    "学生就业与顶岗实习",
    "教师队伍建设",
    "课程思政落实",
    "1+X证书试点",
    "新生入学教育",
]
PLACES = ["实训中心", "一体化教室", "汽车检测实训室", "学生公寓", "教研室", "校企合作实训基地"]
OPINIONS = [
    "教师反映实训设备老化，台套数不足，建议列入下年度设备采购计划。",
    "学生希望延长实训室开放时间，晚间和周末也能练习。",
    "骨干教师希望增加企业实践锻炼的机会，并在职称评审中体现。",
    "学院建议简化校内教学改革项目的报销流程。",
    "班主任反映宿舍区夜间照明不足，存在安全隐患。",
    "学生反映食堂饭菜价格偏高、窗口少，高峰期排队时间长。",
]
FOLLOW_UPS = [
    "已责成资产管理处会同学院于月底前提出设备更新方案。",
    "请学院梳理问题清单，两周内报学校办公室。",
    "已转后勤管理处研究解决，下次调研时跟进。",
    "",
]
BRANCH_ACTIVITIES = [
    "参加{branch}主题党日活动，围绕学习贯彻党的二十届三中全会精神作交流发言。",
    "以普通党员身份参加{branch}组织生活会，听取支部工作汇报，对支部标准化建设提出要求。",
    "参加{branch}“三会一课”党课，讲授专题党课《坚定理想信念 做新时代合格党员》。",
]
LECTURES = [
    "为{klass}学生讲授形势与政策课《新时代中国交通强国建设》，课后与学生交流就业观念。",
    "给{klass}讲思想政治理论课专题《弘扬劳模精神、劳动精神、工匠精神》。",
    "为{klass}讲授形势与政策课《中国式现代化与青年担当》，学生提问踊跃。",
]
SYMPOSIA = [
    "召开{unit}师生代表座谈会，听取学生对{topic}的意见建议。",
    "组织学生代表座谈会，了解学生对{topic}方面服务的评价和需求。",
]
SYMPOSIUM_TOPICS = ["教学管理", "学生资助", "校园安全", "后勤服务", "信息化服务", "人事服务"]
REPORTS = [
    ("work_report", "{college}向联系校领导汇报本学期重点工作推进情况和存在的困难。"),
    ("consultation", "{college}就调整专业设置、新增专业方向一事征求联系校领导意见。"),
    ("consultation", "{college}就学院中层副职人选推荐工作征求联系校领导意见。"),
]
LEADER_OPINIONS = [
    "同意学院的工作安排，要抓好落实，注意听取教师意见。",
    "原则同意，请学院充分论证市场需求和师资条件后报学校研究。",
    "要坚持标准、严格程序，广泛听取群众意见。",
]
PROBLEMS = [
    ("facilities", "ASSET", "实训室部分设备老化，台套数不足，影响分组实训。"),
    ("environment", "LOG", "学生公寓区夜间照明不足，存在安全隐患。"),
    ("other", "LOG", "食堂高峰期窗口少，学生排队时间长。"),
    ("teaching", "AA", "部分实训课程排课集中在周末，学生反映负担重。"),
]


@dataclass
class ContactCounts:
    records: int = 0
    waiting_for_branch: int = 0
    problems: int = 0

    def __str__(self) -> str:
        return (
            f"{self.records} contact records ({self.waiting_for_branch} branch activities waiting "
            f"for the branch), {self.problems} problems"
        )


def point_rows(
    roster: Roster, today: dt.date, start: str, rng: random.Random, class_names: set[str]
) -> list[dict[str, str]]:
    """Rows of contact-points.csv: this academic year's points, and last year's colleges (C-1a rotation).

    ``class_names`` are the student classes the directory knows (from the timetable): a head's class is one
    of their own college's first-year classes."""
    year = academic_year_of(today, start)
    last = previous_academic_year(year)
    colleges = [u for u in TEACHING_UNITS if u.kind == "college" and u.majors]
    rows: list[dict[str, str]] = []

    def add(no: str, y: str, kind: str, target: str) -> None:
        rows.append({"employee_no": no, "academic_year": y, "kind": KIND_ZH[kind], "target": target})

    leaders = [p for p in roster.people if p.unit_code is None]
    order = list(colleges)
    rng.shuffle(order)
    for i, leader in enumerate(leaders):
        mine = [order[(2 * i) % len(order)]] + ([order[(2 * i + 1) % len(order)]] if i % 3 == 0 else [])
        before = order[(2 * i + 5) % len(order)]
        if i == 3:
            before = mine[0]  # this leader keeps last year's college: C-1a flags the repetition
        add(leader.employee_no, last, "college", before.code)
        for college in mine:
            add(leader.employee_no, year, "college", college.code)
        if leader.party_member and i != 5:  # leader 5 forgot to take a branch: C-3a short
            add(leader.employee_no, year, "party_branch", f"{mine[0].code}-DZB{1 + i % 2}")
        if i in (1, 4):
            add(
                leader.employee_no,
                year,
                "club",
                rng.choice(["青年志愿者协会", "汽车爱好者协会", "大学生艺术团"]),
            )
        if i == 2:
            add(leader.employee_no, year, "friend", "民盟支部主委（高层次人才）")
    for n, spec in enumerate(colleges):
        heads = [
            p
            for p in roster.by_unit(spec.code)
            if any(t.position in ("college_dean", "college_party_head") and t.end is None for t in p.tenures)
        ]
        classes = [
            name
            for abbr, _major in spec.majors
            for name in (f"{abbr}{year[2:4]}01", f"{abbr}{year[2:4]}02")
            if name in class_names
        ] or sorted(n for n in class_names if n.startswith(spec.majors[0][0]))[:1]
        for k, head in enumerate(heads):
            office = f"{spec.code}-JY{1 + k % len(spec.majors)}" if k % 2 == 0 else f"{spec.code}-SY1"
            add(head.employee_no, year, "lab" if office.endswith("SY1") else "teaching_office", office)
            if classes and not (n == 1 and k == 0):  # one dean has no student class yet: C-2a short
                add(head.employee_no, year, "student_class", classes[k % len(classes)])
            if head.party_member:
                own = head.branch_code or f"{spec.code}-DZB1"
                other = f"{spec.code}-DZB2" if own.endswith("DZB1") else f"{spec.code}-DZB1"
                add(head.employee_no, year, "party_branch", other)
    return rows


class ContactGenerator:
    """Writes the semester's contact records for leaders, college heads and department heads."""

    def __init__(
        self,
        session: Session,
        institution_id: int,
        policy: Policy,
        roster: Roster,
        rng: random.Random,
        start: dt.date,
        today: dt.date,
    ) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.roster = roster
        self.rng = rng
        self.start = start
        self.last_day = today - dt.timedelta(days=1)
        self.counts = ContactCounts()
        iid = institution_id
        self.people = {
            p.employee_no: p for p in session.scalars(select(Person).where(Person.institution_id == iid))
        }
        self.units = {u.code: u for u in session.scalars(select(Unit).where(Unit.institution_id == iid))}
        self.classes = {
            c.name: c for c in session.scalars(select(StudentClass).where(StudentClass.institution_id == iid))
        }
        year = academic_year_of(today, policy.contact.academic_year_start)
        self.points: dict[int, list[ContactPoint]] = {}
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.institution_id == iid, ContactPoint.academic_year == year)
        ):
            self.points.setdefault(point.person_id, []).append(point)

    def has_records(self) -> bool:
        return bool(
            self.session.scalar(
                select(func.count())
                .select_from(ContactRecord)
                .where(ContactRecord.institution_id == self.institution_id, ContactRecord.date >= self.start)
            )
        )

    def _day(self) -> dt.date:
        span = max(0, (self.last_day - self.start).days)
        return self.start + dt.timedelta(days=self.rng.randint(0, span))

    def _record(
        self, author: Person, kind: str, point: ContactPoint | None = None, **values: object
    ) -> ContactRecord:
        members = values.pop("members", [author])
        record = ContactRecord(
            institution_id=self.institution_id,
            author_id=author.id,
            kind=kind,
            date=values.pop("date", None) or self._day(),
            status=ContactStatus.SUBMITTED,
            draft_version=1,
            contact_point_id=point.id if point else None,
            target_kind=point.kind if point else values.pop("target_kind", ""),
            unit_id=point.unit_id if point else values.pop("unit_id", None),
            student_class_id=point.student_class_id if point else values.pop("student_class_id", None),
            target_label=point.label if point else values.pop("target_label", ""),
            **values,
        )
        record.submitted_at = dt.datetime.combine(record.date, dt.time(10), dt.UTC)
        record.members = [
            ContactMember(
                institution_id=self.institution_id,
                person_id=p.id,
                role=ContactRole.AUTHOR if p.id == author.id else ContactRole.MEMBER,
            )
            for p in members  # type: ignore[attr-defined]
        ]
        self.session.add(record)
        self.counts.records += 1
        return record

    def _visit_text(self, college: Unit) -> dict[str, str]:
        place_t, content_t, _ = self.rng.choice(VISITS)
        fill = {"college": college.name, "topic": self.rng.choice(TOPICS), "place": self.rng.choice(PLACES)}
        return {
            "place": place_t.format(**fill),
            "content": content_t.format(**fill),
            "opinions": self.rng.choice(OPINIONS),
            "follow_up": self.rng.choice(FOLLOW_UPS),
        }

    def _problem(self, record: ContactRecord, raiser: Person) -> None:
        category, unit_code, description = self.rng.choice(PROBLEMS)
        unit = self.units.get(unit_code)
        if unit is None or category not in {c.code for c in self.policy.problem_categories}:
            return
        problem = Problem(
            institution_id=self.institution_id,
            contact_record_id=record.id,
            raised_by_id=raiser.id,
            unit_id=unit.id,
            category=category,
            room=record.place[:100],
            description=description,
            status=ProblemStatus.NEW,
        )
        problem.events.append(ProblemEvent(person_id=raiser.id, status=ProblemStatus.NEW, note=description))
        self.session.add(problem)
        self.counts.problems += 1

    def run(self) -> ContactCounts:
        if self.last_day < self.start:
            return self.counts
        office_clerk = next((p for p in self.roster.by_unit("OFFICE") if not p.tenures), None)
        clerk = self.people.get(office_clerk.employee_no) if office_clerk else None
        leaders = [self.people[p.employee_no] for p in self.roster.people if p.unit_code is None]
        for i, leader in enumerate(leaders):
            points = self.points.get(leader.id, [])
            colleges = [p for p in points if p.kind == "college"]
            visits = 1 if i in (2, 6) else 2 + (i % 2)  # leaders 2 and 6 are short of C-1b
            for v in range(visits):
                if not colleges:
                    break
                point = colleges[v % len(colleges)]
                members = [leader]
                if v == 0 and i in (0, 1):  # the secretary and the president visit together once
                    members = leaders[:2]
                college = self.units_by_id(point.unit_id)
                text = self._visit_text(college)
                size = self.rng.randint(8, 30)
                record = self._record(leader, "visit", point, members=members, participants=size, **text)
                if v == 0 and i in (1, 3):
                    self.session.flush()
                    self._problem(record, leader)
            branch = next((p for p in points if p.kind == "party_branch"), None)
            if branch is not None:
                unit = self.units_by_id(branch.unit_id)
                record = self._record(
                    leader,
                    "branch_activity",
                    branch,
                    place="党员活动室",
                    participants=self.rng.randint(12, 30),
                    content=self.rng.choice(BRANCH_ACTIVITIES).format(branch=unit.name),
                )
                self._confirm(record, i, clerk)
            if i != 4:  # leader 4 has not lectured yet this semester: C-4 short
                klass = self.rng.choice(list(self.classes.values())) if self.classes else None
                self._record(
                    leader,
                    "lecture",
                    target_kind="student_class" if klass else "unit",
                    student_class_id=klass.id if klass else None,
                    place=f"阶梯教室{self.rng.randint(1, 12)}",
                    participants=self.rng.randint(60, 120),
                    content=self.rng.choice(LECTURES).format(klass=klass.name if klass else "学生"),
                )
            if i % 3 == 1:
                talk = "与青年骨干教师谈心谈话，了解其教学科研和生活困难。"
                self._record(leader, "talk", target_kind="friend", target_label="青年骨干教师", content=talk)
        self._college_heads(clerk)
        self._department_heads()
        self._reports(leaders)
        self.session.flush()
        return self.counts

    def units_by_id(self, unit_id: int | None) -> Unit:
        return next(u for u in self.units.values() if u.id == unit_id)

    def _confirm(self, record: ContactRecord, i: int, clerk: Person | None) -> None:
        """Most branches confirmed; two activities still wait; one confirmed on paper by the school office."""
        if i in (1, 6):
            self.counts.waiting_for_branch += 1
            return
        secretary = next(
            (
                p
                for p in self.people.values()
                if p.branch_id == record.unit_id
                and any(h.position_code == "branch_secretary" for h in p.positions)
            ),
            None,
        )
        moment = dt.datetime.combine(record.date + dt.timedelta(days=2), dt.time(9), dt.UTC)
        if i == 3 or secretary is None:
            record.confirmed_on_paper = True
            record.branch_confirmed_by_id = clerk.id if clerk else None
        else:
            record.branch_confirmation = BranchConfirmation.CONFIRMED
            record.branch_confirmed_by_id = secretary.id
        record.branch_confirmed_at = moment

    def _college_heads(self, clerk: Person | None) -> None:
        for n, spec in enumerate(u for u in TEACHING_UNITS if u.kind == "college" and u.majors):
            for k, demo in enumerate(self.roster.by_unit(spec.code)):
                head = self.people[demo.employee_no]
                points = self.points.get(head.id, [])
                if not points:
                    continue
                own = [p for p in points if p.kind in ("teaching_office", "lab", "student_class")]
                visits = 1 if (n + k) % 5 == 0 else 2  # some heads are short of C-2b
                for v in range(visits):
                    point = own[v % len(own)]
                    target = (
                        point.unit.name
                        if point.unit
                        else point.student_class.name
                        if point.student_class
                        else ""
                    )
                    self._record(
                        head,
                        "visit",
                        point,
                        place=target,
                        participants=self.rng.randint(5, 45),
                        content=f"到{target}调研，了解{self.rng.choice(TOPICS)}情况，检查实训教学安排和学生学习状态。",
                        opinions=self.rng.choice(OPINIONS),
                    )
                branch = next((p for p in points if p.kind == "party_branch"), None)
                if branch is not None and (n + k) % 4 != 0:
                    unit = branch.unit
                    record = self._record(
                        head,
                        "branch_activity",
                        branch,
                        place="党员活动室",
                        participants=self.rng.randint(10, 25),
                        content=self.rng.choice(BRANCH_ACTIVITIES).format(
                            branch=unit.name if unit else "支部"
                        ),
                    )
                    self._confirm(record, 6 if (n + k) % 3 == 0 else 0, clerk)

    def _department_heads(self) -> None:
        heads = [
            p
            for p in self.roster.people
            if p.unit_code and p.unit_code not in {u.code for u in TEACHING_UNITS}
        ]
        for j, demo in enumerate(h for h in heads if any(t.position.startswith("head_") for t in h.tenures)):
            if j == 2:
                continue  # one department head has held no symposium yet: C-5 short
            head = self.people[demo.employee_no]
            unit = self.units.get(demo.unit_code or "")
            self._record(
                head,
                "symposium",
                target_kind="unit",
                unit_id=unit.id if unit else None,
                place="行政楼第二会议室",
                participants=self.rng.randint(12, 25),
                content=self.rng.choice(SYMPOSIA).format(
                    unit=unit.name if unit else "", topic=self.rng.choice(SYMPOSIUM_TOPICS)
                ),
                opinions=self.rng.choice(OPINIONS),
            )

    def _reports(self, leaders: list[Person]) -> None:
        """C-1c: colleges report to their contact leader; two reports still wait for the opinion."""
        waiting = 0
        for leader in leaders:
            for point in [p for p in self.points.get(leader.id, []) if p.kind == "college"][:1]:
                college = self.units_by_id(point.unit_id)
                dean = next(
                    (
                        self.people[p.employee_no]
                        for p in self.roster.by_unit(college.code)
                        if any(t.position == "college_dean" and t.end is None for t in p.tenures)
                    ),
                    None,
                )
                if dean is None:
                    continue
                kind, text = self.rng.choice(REPORTS)
                opinion = "" if waiting < 2 and self.rng.random() < 0.4 else self.rng.choice(LEADER_OPINIONS)
                waiting += not opinion
                self._record(
                    leader,
                    kind,
                    point,
                    place=f"{college.name}会议室",
                    content=text.format(college=college.name),
                    leader_opinion=opinion,
                    reported_by_id=dean.id,
                )
