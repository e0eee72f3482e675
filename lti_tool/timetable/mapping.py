"""Which timetable course(s) an LMS course is: automatic by ID number or label, else mapped by hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from lti_tool.db import get_scoped
from lti_tool.errors import NotFound, ValidationFailed
from lti_tool.lti.models import LaunchSession, Platform
from lti_tool.timetable.models import Course, CourseContextMapping


# -- LMS course ↔ course code ------------------------------------------------------------------------
@dataclass
class LmsContext:
    """An LMS course somebody launched Tingke from, for the quality center's mapping page."""

    platform_id: int
    platform_name: str
    context_id: str
    title: str
    label: str
    course_offering_sourcedid: str


class CourseMappingService:
    """Which timetable course(s) an LMS course (platform context) is (issue 3 §3).

    Automatic first: the launch's lis ``course_offering_sourcedid`` (Moodle's course idnumber), then the
    context label, when either equals a course code; else a mapping the quality center set by hand.
    """

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def known_codes(self, codes: Iterable[str]) -> list[str]:
        wanted = [c.strip() for c in codes if c and c.strip()]
        if not wanted:
            return []
        found = set(
            self.session.scalars(
                select(Course.code).where(
                    Course.institution_id == self.institution_id, Course.code.in_(wanted)
                )
            )
        )
        return [c for c in dict.fromkeys(wanted) if c in found]

    def course_codes_for(self, platform_id: int, context_id: str, course_keys: Iterable[str]) -> list[str]:
        automatic = self.known_codes(course_keys)
        if automatic:
            return automatic[:1]
        if not context_id:
            return []
        mapped = self.session.scalars(
            select(CourseContextMapping.course_code).where(
                CourseContextMapping.institution_id == self.institution_id,
                CourseContextMapping.platform_id == platform_id,
                CourseContextMapping.context_id == context_id,
            )
        ).first()
        return [mapped] if mapped else []

    def all(self) -> list[tuple[CourseContextMapping, str, str]]:
        """Mappings with their platform's name and the course's name."""
        rows = self.session.execute(
            select(CourseContextMapping, Platform.name, Platform.issuer, Course.name)
            .join(Platform, Platform.id == CourseContextMapping.platform_id)
            .outerjoin(
                Course,
                and_(
                    Course.institution_id == CourseContextMapping.institution_id,
                    Course.code == CourseContextMapping.course_code,
                ),
            )
            .where(CourseContextMapping.institution_id == self.institution_id)
            .order_by(CourseContextMapping.context_title, CourseContextMapping.id)
        )
        return [(m, pname or issuer, cname or "") for m, pname, issuer, cname in rows]

    def platforms(self) -> list[Platform]:
        return list(
            self.session.scalars(
                select(Platform).where(Platform.institution_id == self.institution_id).order_by(Platform.id)
            )
        )

    def set(
        self, platform_id: int, context_id: str, course_code: str, context_title: str = ""
    ) -> CourseContextMapping:
        problems = []
        platform = get_scoped(self.session, Platform, platform_id, self.institution_id)
        if platform is None:
            problems.append("LMS 平台不存在 (unknown LMS platform)")
        context_id = (context_id or "").strip()
        if not context_id or len(context_id) > 255:
            problems.append("LMS 课程 ID 不能为空 (the LMS course id must not be empty)")
        course_code = (course_code or "").strip()
        if not self.known_codes([course_code]):
            problems.append(f"课程代码“{course_code}”不在课表中 (the course code is not in the timetable)")
        if problems:
            raise ValidationFailed("The mapping could not be saved.", details=problems)
        mapping = self.session.scalars(
            select(CourseContextMapping).where(
                CourseContextMapping.platform_id == platform_id, CourseContextMapping.context_id == context_id
            )
        ).first()
        if mapping is None:
            mapping = CourseContextMapping(
                institution_id=self.institution_id, platform_id=platform_id, context_id=context_id
            )
            self.session.add(mapping)
        mapping.course_code = course_code
        mapping.context_title = (context_title or "").strip()[:500] or mapping.context_title or ""
        self.session.flush()
        return mapping

    def remove(self, mapping_id: int) -> None:
        mapping = get_scoped(self.session, CourseContextMapping, mapping_id, self.institution_id)
        if mapping is None:
            raise NotFound("No such mapping.")
        self.session.delete(mapping)
        self.session.flush()

    def recent_unmapped(self, limit: int = 50) -> list[LmsContext]:
        """LMS courses launched from recently that match no course code and have no mapping yet."""
        mapped = {(m.platform_id, m.context_id) for m, _, _ in self.all()}
        names = {p.id: p.name or p.issuer for p in self.platforms()}
        seen: dict[tuple[int, str], LmsContext] = {}
        rows = self.session.execute(
            select(LaunchSession.platform_id, LaunchSession.claims)
            .where(LaunchSession.institution_id == self.institution_id)
            .order_by(LaunchSession.created_at.desc())
            .limit(2000)
        )
        for platform_id, claims in rows:
            claims = claims or {}
            context_id = str(claims.get("context_id") or "")
            key = (platform_id, context_id)
            if not context_id or key in mapped or key in seen:
                continue
            seen[key] = LmsContext(
                platform_id,
                names.get(platform_id, ""),
                context_id,
                str(claims.get("context_title") or ""),
                str(claims.get("context_label") or ""),
                # the ID number: Moodle sends it as course_section_sourcedid (tests/fixtures/moodle-5.0)
                str(claims.get("course_offering_sourcedid") or claims.get("course_section_sourcedid") or ""),
            )
        matched = set(
            self.known_codes(
                [c.label for c in seen.values()] + [c.course_offering_sourcedid for c in seen.values()]
            )
        )
        return [
            c for c in seen.values() if c.label not in matched and c.course_offering_sourcedid not in matched
        ][:limit]
