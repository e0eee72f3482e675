"""The demo college's timetable: one semester's export from the academic system, as import rows.

Every teaching college has three majors with two classes per major and cohort (汽修2601, 汽修2602 …).
First- and second-year classes take professional courses from their college, mathematics, English and IT
from the basic-courses department, PE, and the required ideological-political theory courses (思政必修)
from the Marxism School in merged lectures of three classes; third-year classes have a few courses before
their placements. The rows are scheduled without clashes for any class, teacher or room (by weekday and
period pair), with the week patterns a real export has (1-16, 1-8, 9-16, 1-16单, 2-16双 …). A few
continuing-education sections (全日制 = 否) show that part-time courses are not observable (O-10).
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from dataclasses import dataclass

from lti_tool.demo.catalog import (
    COLLEGES,
    ELECTIVE,
    IDEOLOGICAL,
    MARXISM,
    PRACTICE,
    PROFESSIONAL,
    ROOMS,
    CollegeSpec,
    CourseSpec,
)
from lti_tool.demo.roster import DemoPerson, Roster

DAY_SLOTS = ((1, 2), (3, 4), (5, 6), (7, 8))
EVENING = (9, 10)

# Which Marxism-School courses each year level takes, by semester (autumn = 1, spring = 2). Together they
# cover every required 思政 course in both semesters, so O-3's "each course taught that semester" has
# eight courses to work on whichever semester is current.
IDEOLOGY_PLAN: dict[int, dict[int, tuple[str, ...]]] = {
    1: {1: ("MY001", "MY004", "MY006", "MY010"), 2: ("MY002", "MY004", "MY008")},
    2: {1: ("MY003", "MY004", "MY007", "MY002"), 2: ("MY003", "MY004", "MY005", "MY007", "MY009")},
    3: {1: ("MY004", "MY005", "MY008"), 2: ("MY004", "MY001", "MY006")},
}
BASIC_PLAN: dict[int, dict[int, tuple[tuple[str, int], ...]]] = {
    # (course code, meetings per week)
    1: {
        1: (("JC001", 2), ("JC002", 2), ("JC003", 1), ("JC006", 1)),
        2: (("JC001", 2), ("JC002", 2), ("JC004", 1)),
    },
    2: {1: (("JC002", 1), ("JC007", 1)), 2: (("JC002", 1), ("JC005", 1))},
    3: {1: (), 2: ()},
}
PE_PLAN: dict[int, tuple[str, ...]] = {1: ("TY001",), 2: ("TY001", "TY002", "TY003"), 3: ()}


@dataclass(frozen=True)
class SchoolClass:
    name: str
    college: CollegeSpec
    major: str
    cohort: int
    level: int
    """Year of study: 1, 2 or 3."""


def class_size(name: str) -> int:
    """A stable head count for a class (应到), the same on every run and in every module."""
    return 32 + zlib.crc32(name.encode()) % 17


def classes_for(academic_year: int) -> list[SchoolClass]:
    """All full-time classes studying in the semester (``academic_year`` = the autumn's calendar year)."""
    out = []
    for college in COLLEGES:
        for abbr, major in college.majors:
            for level in (1, 2, 3):
                cohort = academic_year - level + 1
                for n in (1, 2):
                    name = f"{abbr}{cohort % 100:02d}{n:02d}"
                    out.append(SchoolClass(name, college, major, cohort, level))
    return out


class _Scheduler:
    """Places rows on (weekday, period pair) slots with no clash for a class, a teacher or a room."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.busy: set[tuple[str, int, int]] = set()
        self.load: dict[str, int] = defaultdict(int)

    def _free(self, key: str, day: int, slot: int) -> bool:
        return (key, day, slot) not in self.busy

    def place(
        self,
        classes: list[str],
        teachers: list[DemoPerson],
        rooms: list[str],
        *,
        avoid_days: set[int] | None = None,
        evening: bool = False,
        days: tuple[int, ...] = (1, 2, 3, 4, 5),
    ) -> tuple[int, tuple[int, int], str] | None:
        slots = [(d, s) for d in days for s in ((EVENING,) if evening else DAY_SLOTS)]
        self.rng.shuffle(slots)
        slots.sort(key=lambda ds: ds[0] in (avoid_days or set()))
        for day, slot in slots:
            if not all(self._free("c:" + c, day, slot[0]) for c in classes):
                continue
            if not all(self._free("t:" + t.employee_no, day, slot[0]) for t in teachers):
                continue
            free_rooms = [r for r in rooms if self._free("r:" + r, day, slot[0])]
            if not free_rooms:
                continue
            room = self.rng.choice(free_rooms)
            for key in ["c:" + c for c in classes] + ["t:" + t.employee_no for t in teachers] + ["r:" + room]:
                self.busy.add((key, day, slot[0]))
            for t in teachers:
                self.load[t.employee_no] += 1
            return day, slot, room
        return None

    def candidates(self, pool: list[DemoPerson], team: list[DemoPerson]) -> list[DemoPerson]:
        """Who may take a row: the least loaded first, the course's team before others at equal load.

        Spreading the rows this way gives every teacher on the roster at least one section, so the
        teacher persona and "teachers never observed" have the whole staff to work with.
        """
        shuffled = list(pool)
        self.rng.shuffle(shuffled)
        members = {p.employee_no for p in team}
        return sorted(
            shuffled,
            key=lambda p: (
                self.load[p.employee_no] >= p.teaching_load,
                self.load[p.employee_no],
                p.employee_no not in members,
            ),
        )


class TimetableBuilder:
    """Builds one semester's rows; ``rows()`` returns them keyed by the importer's canonical columns."""

    def __init__(self, rng: random.Random, roster: Roster, semester_code: str) -> None:
        self.rng = rng
        self.roster = roster
        self.semester_code = semester_code
        parts = semester_code.split("-")
        self.academic_year = int(parts[0])
        self.term = int(parts[2])
        self.scheduler = _Scheduler(rng)
        self.out: list[dict[str, str]] = []
        self.course_teachers: dict[str, list[DemoPerson]] = {}

    # -- helpers ------------------------------------------------------------------------------------
    def _course_team(self, unit: CollegeSpec, course: CourseSpec) -> list[DemoPerson]:
        """The few teachers of a unit who teach a course (the same people across its sections)."""
        if course.code not in self.course_teachers:
            pool = self.roster.teachers(unit.code)
            size = 6 if unit.serves_all else 3
            self.course_teachers[course.code] = self.rng.sample(pool, min(size, len(pool)))
        return self.course_teachers[course.code]

    def _emit(
        self,
        unit: CollegeSpec,
        course: CourseSpec,
        classes: list[SchoolClass],
        rooms: list[str],
        *,
        meetings: int = 1,
        two_teachers: bool = False,
        full_time: bool = True,
        class_names: list[str] | None = None,
        student_unit: str | None = None,
        evening: bool = False,
    ) -> int:
        names = class_names or [c.name for c in classes]
        student_unit = student_unit or (classes[0].college.name if classes else unit.name)
        team = self._course_team(unit, course)
        weeks = self.rng.choice(course.weeks)
        placed = 0
        used_days: set[int] = set()
        for _ in range(meetings):
            done = False
            candidates = self.scheduler.candidates(self.roster.teachers(unit.code), team)
            for first in candidates[:12]:
                teachers = [first]
                if two_teachers:
                    others = [t for t in team if t is not first] or [t for t in candidates if t is not first]
                    teachers.append(self.rng.choice(others))
                spot = self.scheduler.place(
                    names,
                    teachers,
                    rooms,
                    avoid_days=used_days,
                    evening=evening,
                    days=(6, 7) if not full_time and not evening else (1, 2, 3, 4, 5),
                )
                if spot is None:
                    continue
                day, (p1, p2), room = spot
                used_days.add(day)
                self.out.append(
                    {
                        "semester": self.semester_code,
                        "course_code": course.code,
                        "course_name": course.name,
                        "course_kind": course.kind,
                        "offering_unit": unit.name,
                        "teacher_no": ";".join(t.employee_no for t in teachers),
                        "classes": ";".join(names),
                        "student_unit": student_unit,
                        "weekday": str(day),
                        "periods": f"{p1}-{p2}",
                        "weeks": weeks,
                        "room": room,
                        "full_time": "是" if full_time else "否",
                    }
                )
                placed += 1
                done = True
                break
            if not done:
                break
        return placed

    def _rooms(self, unit: CollegeSpec, course: CourseSpec, merged: bool) -> list[str]:
        if unit.code == "PE":
            return ROOMS["体育馆"]
        if course.kind == IDEOLOGICAL or (merged and unit.serves_all):
            return ROOMS["阶梯"] + ROOMS["A"]
        if course.kind == PRACTICE:
            if unit.building.startswith("实训"):
                return ROOMS[unit.building]
            return ROOMS["实训楼" + "ABC"[zlib.crc32(unit.code.encode()) % 3]]
        return ROOMS.get(unit.building, ROOMS["A"])

    # -- the semester -------------------------------------------------------------------------------
    def build(self) -> list[dict[str, str]]:
        classes = classes_for(self.academic_year)
        by_college_level: dict[tuple[str, int], list[SchoolClass]] = defaultdict(list)
        for c in classes:
            by_college_level[(c.college.code, c.level)].append(c)
        self._professional(by_college_level)
        self._ideology(by_college_level)
        self._basic(by_college_level)
        self._pe(by_college_level)
        self._part_time()
        return self.out

    def _level_courses(self, college: CollegeSpec, level: int) -> list[tuple[CourseSpec, int]]:
        """A college's courses for a year level this semester: (course, meetings per week)."""
        core = [c for c in college.courses if c.kind == PROFESSIONAL]
        practice = [c for c in college.courses if c.kind == PRACTICE]
        elective = [c for c in college.courses if c.kind == ELECTIVE]
        index = (level - 1) * 2 + (self.term - 1)  # 0..5: the semester of study
        start = (index * 2) % len(core)
        chosen = [core[(start + i) % len(core)] for i in range(3 if level < 3 else 2)]
        out = [(chosen[0], 2)] + [(c, 1) for c in chosen[1:]]
        if level >= 2 and practice:
            out.append((practice[0], 1))
        if level == 2 and elective:
            out.append((elective[0], 1))
        return out

    def _professional(self, groups: dict[tuple[str, int], list[SchoolClass]]) -> None:
        for college in COLLEGES:
            if college.serves_all:
                continue
            for level in (1, 2, 3):
                level_classes = groups[(college.code, level)]
                by_major: dict[str, list[SchoolClass]] = defaultdict(list)
                for c in level_classes:
                    by_major[c.major].append(c)
                for course, meetings in self._level_courses(college, level):
                    for major_classes in by_major.values():
                        if course.kind == PRACTICE or self.rng.random() < 0.15:
                            # Taught to each class on its own (practice always: workshop places are few).
                            for c in major_classes:
                                self._emit(
                                    college,
                                    course,
                                    [c],
                                    self._rooms(college, course, False),
                                    meetings=meetings,
                                    two_teachers=course.kind == PRACTICE and self.rng.random() < 0.3,
                                )
                        else:
                            self._emit(
                                college,
                                course,
                                major_classes,
                                self._rooms(college, course, True),
                                meetings=meetings,
                            )

    def _ideology(self, groups: dict[tuple[str, int], list[SchoolClass]]) -> None:
        courses = {c.code: c for c in MARXISM.courses}
        for college in COLLEGES:
            if college.serves_all:
                continue
            for level in (1, 2, 3):
                level_classes = groups[(college.code, level)]
                trios = [level_classes[i : i + 3] for i in range(0, len(level_classes), 3)]
                for code in IDEOLOGY_PLAN[level][self.term]:
                    for trio in trios:
                        self._emit(MARXISM, courses[code], trio, self._rooms(MARXISM, courses[code], True))

    def _basic(self, groups: dict[tuple[str, int], list[SchoolClass]]) -> None:
        basic = next(c for c in COLLEGES if c.code == "BASIC")
        courses = {c.code: c for c in basic.courses}
        for college in COLLEGES:
            if college.serves_all:
                continue
            for level in (1, 2, 3):
                level_classes = groups[(college.code, level)]
                pairs = [level_classes[i : i + 2] for i in range(0, len(level_classes), 2)]
                for code, meetings in BASIC_PLAN[level][self.term]:
                    for pair in pairs:
                        self._emit(
                            basic,
                            courses[code],
                            pair,
                            self._rooms(basic, courses[code], True),
                            meetings=meetings,
                        )

    def _pe(self, groups: dict[tuple[str, int], list[SchoolClass]]) -> None:
        pe = next(c for c in COLLEGES if c.code == "PE")
        courses = {c.code: c for c in pe.courses}
        for college in COLLEGES:
            if college.serves_all:
                continue
            for c in groups[(college.code, 1)]:
                self._emit(pe, courses[PE_PLAN[1][0]], [c], self._rooms(pe, courses[PE_PLAN[1][0]], False))
            # Second-year PE is an elective club (篮球, 健美操 …) taken by two classes together.
            level2 = groups[(college.code, 2)]
            for pair in (level2[i : i + 2] for i in range(0, len(level2), 2)):
                code = PE_PLAN[2][zlib.crc32(pair[0].name.encode()) % len(PE_PLAN[2])]
                self._emit(pe, courses[code], pair, self._rooms(pe, courses[code], True))

    def _part_time(self) -> None:
        """Continuing-education classes (成教) on weekends and evenings: not observable (O-10)."""
        cohort = self.academic_year % 100
        for college in COLLEGES[:4]:
            abbr = college.majors[0][0]
            name = f"成教{abbr}{cohort:02d}01"
            course = college.courses[0]
            self._emit(
                college,
                course,
                [],
                self._rooms(college, course, False),
                full_time=False,
                class_names=[name],
                student_unit=college.name,
            )
        ideology = next(c for c in MARXISM.courses if c.code == "MY001")
        self._emit(
            MARXISM,
            ideology,
            [],
            ROOMS["阶梯"],
            full_time=False,
            class_names=[f"成教汽修{cohort:02d}01"],
            student_unit=COLLEGES[0].name,
            evening=True,
        )


def build_timetable(rng: random.Random, roster: Roster, semester_code: str) -> list[dict[str, str]]:
    return TimetableBuilder(rng, roster, semester_code).build()
