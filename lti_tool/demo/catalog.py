"""The demo college's fixed shape: units, majors, course catalogue, leadership posts, rooms.

A vocational transport college (高职): twelve-odd teaching colleges with three majors each, a basic-courses
department and a PE department teaching every college's classes, the Marxism School teaching the required
ideological-political theory courses (思政必修) to everybody, and the functional departments that observe,
patrol and handle problems. Only the people and the timetable are random; this shape is fixed so the demo
reads the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CourseSpec:
    code: str
    name: str
    kind: str
    weeks: tuple[str, ...] = ("1-16",)
    """Week patterns this course is timetabled with (one is drawn per section)."""
    periods: int = 2
    sessions_per_week: int = 1


@dataclass(frozen=True)
class CollegeSpec:
    code: str
    name: str
    number: int
    """Two-digit prefix of its staff's employee numbers."""
    kind: str = "college"
    majors: tuple[tuple[str, str], ...] = ()
    """(class-name abbreviation, major name); classes are named 汽修2601 …"""
    courses: tuple[CourseSpec, ...] = ()
    teachers: int = 30
    building: str = "A"
    serves_all: bool = False
    """The basic-courses and PE departments teach every college's classes."""


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    number: int
    head_position: str | None
    head_title: str
    function: str = ""
    staff: int = 2


PROFESSIONAL = "专业必修"
ELECTIVE = "专业选修"
PRACTICE = "实践教学"
PUBLIC = "公共必修"
PUBLIC_ELECTIVE = "公共选修"
IDEOLOGICAL = "思政必修"
"""The timetable's 课程类别 value that the default policy lists as 思政 required (O-3, O-8)."""


def _courses(
    prefix: str, names: str, kind: str = PROFESSIONAL, *, practice: str = "", elective: str = ""
) -> tuple[CourseSpec, ...]:
    """A unit's courses, coded ``<prefix>001`` …: the space-separated ``names`` of ``kind``, then one
    practice (实践教学) course and one elective, each with the week patterns such courses have."""
    items = [(name, kind) for name in names.split()]
    items += [(practice, PRACTICE)] if practice else []
    items += [(elective, ELECTIVE)] if elective else []
    out = []
    for i, (name, course_kind) in enumerate(items, start=1):
        weeks: tuple[str, ...] = ("1-16",)
        if course_kind == PRACTICE:
            weeks = ("1-16单", "2-16双", "9-16", "1-8")
        elif course_kind == ELECTIVE:
            weeks = ("1-12", "5-16", "1-16")
        out.append(CourseSpec(f"{prefix}{i:03d}", name, course_kind, weeks))
    return tuple(out)


COLLEGES: tuple[CollegeSpec, ...] = (
    CollegeSpec(
        "AUTO",
        "汽车工程学院",
        11,
        teachers=34,
        building="实训楼A",
        majors=(("汽修", "汽车检测与维修技术"), ("新能源", "新能源汽车技术"), ("汽制", "汽车制造与试验技术")),
        courses=_courses(
            "QC",
            "汽车构造 汽车发动机构造与维修 汽车底盘构造与维修 汽车电气设备构造与维修 "
            "汽车故障诊断技术 新能源汽车动力电池技术 汽车电控技术 机械制图",
            practice="汽车维护与保养实训",
            elective="汽车文化",
        ),
    ),
    CollegeSpec(
        "ROAD",
        "道路桥梁工程学院",
        12,
        teachers=32,
        building="B",
        majors=(("道桥", "道路与桥梁工程技术"), ("养护", "道路养护与管理"), ("检测", "道路工程检测技术")),
        courses=_courses(
            "DQ",
            "工程力学 道路建筑材料 路基路面施工技术 桥梁施工技术 "
            "土力学与地基基础 公路工程试验检测 道路勘测设计 公路养护技术",
            practice="工程测量实训",
            elective="公路工程招投标",
        ),
    ),
    CollegeSpec(
        "INFO",
        "交通信息学院",
        13,
        teachers=32,
        building="C",
        majors=(("计应", "计算机应用技术"), ("软件", "软件技术"), ("智交", "智能交通技术")),
        courses=_courses(
            "XX",
            "C语言程序设计 Python程序设计 数据库原理与应用 计算机网络技术 "
            "Web前端开发 Java程序设计 智能交通系统 物联网技术应用",
            practice="软件项目实训",
            elective="大数据技术基础",
        ),
    ),
    CollegeSpec(
        "RAIL",
        "轨道交通学院",
        14,
        teachers=30,
        building="实训楼B",
        majors=(
            ("城轨", "城市轨道交通运营管理"),
            ("机车", "铁道机车运用与维护"),
            ("车辆", "城市轨道交通车辆技术"),
        ),
        courses=_courses(
            "GD",
            "城市轨道交通概论 行车组织 客运组织 城轨车辆构造 "
            "城轨供电系统 信号与通信系统 铁路行车规章 电工电子技术",
            practice="车站设备操作实训",
            elective="轨道交通服务礼仪",
        ),
    ),
    CollegeSpec(
        "LOGI",
        "物流管理学院",
        15,
        teachers=28,
        building="D",
        majors=(("物流", "现代物流管理"), ("冷链", "冷链物流技术与管理"), ("电商", "电子商务")),
        courses=_courses(
            "WL",
            "物流管理基础 仓储与配送管理 运输管理实务 供应链管理 物流信息技术 采购管理 冷链物流 电子商务基础",
            practice="物流沙盘实训",
            elective="国际货运代理",
        ),
    ),
    CollegeSpec(
        "ECON",
        "经济管理学院",
        16,
        teachers=30,
        building="D",
        majors=(("会计", "大数据与会计"), ("营销", "市场营销"), ("汽销", "汽车技术服务与营销")),
        courses=_courses(
            "JG",
            "基础会计 财务会计 经济学基础 管理学基础 市场营销 统计学基础 税务会计 财务管理",
            practice="会计综合实训",
            elective="商务谈判",
        ),
    ),
    CollegeSpec(
        "SURV",
        "测绘工程学院",
        17,
        teachers=28,
        building="B",
        majors=(("测量", "工程测量技术"), ("地信", "地理信息技术"), ("无人机", "无人机测绘技术")),
        courses=_courses(
            "CH",
            "测量基础 数字测图 GNSS测量技术 地理信息系统应用 摄影测量与遥感 无人机测绘 测量平差 工程测量",
            practice="数字测图实训",
            elective="地图制图",
        ),
    ),
    CollegeSpec(
        "ARCH",
        "建筑工程学院",
        18,
        teachers=30,
        building="B",
        majors=(("建工", "建筑工程技术"), ("造价", "工程造价"), ("建装", "建筑装饰工程技术")),
        courses=_courses(
            "JZ",
            "建筑构造 建筑材料 建筑施工技术 建筑结构 建筑CAD 工程造价基础 建筑工程计量与计价 BIM技术应用",
            practice="建筑施工实训",
            elective="建筑法规",
        ),
    ),
    CollegeSpec(
        "MECH",
        "机电工程学院",
        19,
        teachers=30,
        building="实训楼C",
        majors=(("机电", "机电一体化技术"), ("电气", "电气自动化技术"), ("数控", "数控技术")),
        courses=_courses(
            "JD",
            "机械基础 电工技术 电子技术 PLC应用技术 "
            "液压与气动技术 数控编程与加工 单片机应用技术 传感器与检测技术",
            practice="金工实训",
            elective="工业机器人基础",
        ),
    ),
    CollegeSpec(
        "ART",
        "艺术设计学院",
        20,
        teachers=26,
        building="E",
        majors=(("视传", "视觉传达设计"), ("环艺", "环境艺术设计"), ("数媒", "数字媒体艺术设计")),
        courses=_courses(
            "YS",
            "设计素描 色彩构成 平面构成 图形创意 室内设计 三维建模 UI设计 版式设计",
            practice="摄影基础",
            elective="中外美术史",
        ),
    ),
    CollegeSpec(
        "TRAN",
        "交通运输学院",
        21,
        teachers=28,
        building="E",
        majors=(("道运", "道路运输管理"), ("交安", "交通安全技术"), ("民航", "民航运输服务")),
        courses=_courses(
            "JY",
            "交通运输概论 道路运输管理 交通安全管理 交通工程 运输经济学 民航服务礼仪 客运服务 交通法规",
            practice="运输调度实训",
            elective="旅游地理",
        ),
    ),
    CollegeSpec(
        "BASIC",
        "基础教学部",
        22,
        serves_all=True,
        teachers=44,
        building="A",
        courses=(
            CourseSpec("JC001", "高等数学", PUBLIC),
            CourseSpec("JC002", "大学英语", PUBLIC),
            CourseSpec("JC003", "信息技术", PUBLIC),
            CourseSpec("JC004", "大学语文", PUBLIC),
            CourseSpec("JC005", "应用文写作", PUBLIC_ELECTIVE),
            CourseSpec("JC006", "职业生涯规划", PUBLIC),
            CourseSpec("JC007", "创新创业基础", PUBLIC),
        ),
    ),
    CollegeSpec(
        "PE",
        "体育部",
        23,
        serves_all=True,
        teachers=22,
        building="体育馆",
        courses=(
            CourseSpec("TY001", "体育与健康", PUBLIC),
            CourseSpec("TY002", "篮球", PUBLIC_ELECTIVE),
            CourseSpec("TY003", "健美操", PUBLIC_ELECTIVE),
        ),
    ),
)

MARXISM = CollegeSpec(
    "MARX",
    "马克思主义学院",
    24,
    kind="marxism_school",
    serves_all=True,
    teachers=42,
    building="A",
    courses=(
        CourseSpec("MY001", "思想道德与法治", IDEOLOGICAL, ("1-16",)),
        CourseSpec("MY002", "毛泽东思想和中国特色社会主义理论体系概论", IDEOLOGICAL, ("1-16",)),
        CourseSpec("MY003", "习近平新时代中国特色社会主义思想概论", IDEOLOGICAL, ("1-16",)),
        CourseSpec("MY004", "形势与政策", IDEOLOGICAL, ("1-8", "9-16")),
        CourseSpec("MY005", "马克思主义基本原理", IDEOLOGICAL, ("1-16",)),
        CourseSpec("MY006", "中国近现代史纲要", IDEOLOGICAL, ("1-16",)),
        CourseSpec("MY007", "思想政治理论课实践", IDEOLOGICAL, ("1-16单", "2-16双")),
        CourseSpec("MY008", "中华民族共同体概论", IDEOLOGICAL, ("1-8", "9-16")),
        CourseSpec("MY009", "中国共产党历史", "思政选修", ("1-8", "9-16")),
        CourseSpec("MY010", "大学生心理健康教育", PUBLIC, ("1-8", "9-16")),
    ),
)

TEACHING_UNITS: tuple[CollegeSpec, ...] = (*COLLEGES, MARXISM)

DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("OFFICE", "学校办公室", 30, None, "主任", function="school_office", staff=3),
    DepartmentSpec("ORG", "党委组织部", 31, None, "部长", function="organization", staff=3),
    DepartmentSpec("PROP", "党委宣传部", 32, "head_propaganda", "部长", staff=2),
    DepartmentSpec("STU", "学生工作部", 33, "head_student_affairs", "部长", staff=3),
    DepartmentSpec("AA", "教务处", 34, "head_academic_affairs", "处长", staff=4),
    DepartmentSpec("RES", "科研处", 35, "head_research", "处长", staff=2),
    DepartmentSpec("HR", "人事处", 36, "head_hr", "处长", staff=2),
    DepartmentSpec(
        "QC", "教学质量监控与评价中心", 37, "head_quality_center", "主任", function="quality_center", staff=4
    ),
    DepartmentSpec("SEC", "保卫处", 38, "head_security", "处长", staff=2),
    DepartmentSpec("ASSET", "资产管理处", 39, "head_assets", "处长", staff=2),
    DepartmentSpec("LOG", "后勤管理处", 40, "head_logistics", "处长", staff=3),
    DepartmentSpec("IT", "信息中心", 41, "head_it_center", "主任", staff=3),
)

LEADERSHIP_NUMBER = 10
"""Employee-number prefix of the school leadership (100001 …)."""

# (title, positions): the school leadership team (校领导班子).
SCHOOL_LEADERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("党委书记", ("school_leader", "party_secretary")),
    ("院长", ("school_leader", "president")),
    ("党委副书记", ("school_leader", "vp_ideology")),
    ("副院长（分管教学）", ("school_leader", "vp_teaching")),
    ("副院长（分管科研）", ("school_leader", "vp_research")),
    ("纪委书记", ("school_leader",)),
    ("副院长（分管后勤）", ("school_leader",)),  # the demo's one leader who is not a party member (C-3)
    ("副院长（分管学生工作）", ("school_leader",)),
)

ROOMS: dict[str, list[str]] = {
    "A": [f"A{floor}{n:02d}" for floor in range(1, 6) for n in range(1, 13)],
    "B": [f"B{floor}{n:02d}" for floor in range(1, 6) for n in range(1, 11)],
    "C": [f"C{floor}{n:02d}" for floor in range(1, 5) for n in range(1, 11)],
    "D": [f"D{floor}{n:02d}" for floor in range(1, 5) for n in range(1, 11)],
    "E": [f"E{floor}{n:02d}" for floor in range(1, 5) for n in range(1, 9)],
    "实训楼A": [f"实训楼A{floor}{n:02d}" for floor in range(1, 4) for n in range(1, 9)],
    "实训楼B": [f"实训楼B{floor}{n:02d}" for floor in range(1, 4) for n in range(1, 9)],
    "实训楼C": [f"实训楼C{floor}{n:02d}" for floor in range(1, 4) for n in range(1, 9)],
    "体育馆": ["体育馆一层", "体育馆二层", "田径场东", "田径场西", "篮球场1", "篮球场2", "篮球场3", "形体房"],
    "阶梯": [f"阶梯教室{n}" for n in range(1, 13)],
}
"""Rooms by building; 阶梯 are the big lecture halls for merged 思政 and public classes."""

PERIODS: tuple[tuple[int, str, str], ...] = (
    (1, "08:00", "08:45"),
    (2, "08:55", "09:40"),
    (3, "10:00", "10:45"),
    (4, "10:55", "11:40"),
    (5, "13:30", "14:15"),
    (6, "14:25", "15:10"),
    (7, "15:30", "16:15"),
    (8, "16:25", "17:10"),
    (9, "18:00", "18:45"),
    (10, "18:55", "19:40"),
)
"""The period table (节次 → clock times) of a northern college's winter schedule."""

EMAIL_DOMAIN = "demo.jljtxy.edu.cn"
