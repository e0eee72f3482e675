"""A demo photo of a problem (issue 15 §4): a ceiling projector throwing a dim, washed-out slide.

Drawn with Pillow (no image file ships with the demo) and attached through the photo service, so the demo's
photo went through the same checks and re-encoding as one from a phone.
"""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person
from lti_tool.problems.models import PhotoStage, Problem, ProblemStatus
from lti_tool.problems.photos import PhotoService, PhotoUpload
from lti_tool.timetable.models import Semester


def projector_picture(width: int = 1280, height: int = 960) -> bytes:
    """A JPEG of a classroom's front wall: a ceiling projector, its light cone and a faint slide."""
    img = Image.new("RGB", (width, height), (196, 190, 178))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, height * 0.12), fill=(232, 230, 224))  # ceiling
    draw.rectangle((0, height * 0.82, width, height), fill=(120, 96, 72))  # floor
    # the screen, and the slide on it: barely brighter than the screen itself
    sx0, sy0, sx1, sy1 = width * 0.28, height * 0.22, width * 0.92, height * 0.70
    draw.rectangle((sx0 - 8, sy0 - 8, sx1 + 8, sy1 + 8), fill=(60, 60, 64))
    draw.rectangle((sx0, sy0, sx1, sy1), fill=(214, 214, 206))
    draw.rectangle((sx0 + 30, sy0 + 30, sx1 - 30, sy0 + 80), fill=(200, 202, 196))
    for i in range(5):
        y = sy0 + 120 + i * 45
        draw.rectangle((sx0 + 50, y, sx0 + 50 + (sx1 - sx0) * (0.7 - i * 0.08), y + 16), fill=(203, 204, 199))
    # the projector hanging from the ceiling, its lens and the cone of light
    px, py = width * 0.12, height * 0.14
    draw.rectangle((px + 60, height * 0.12, px + 75, py), fill=(90, 90, 90))  # mount
    draw.rounded_rectangle((px, py, px + 170, py + 70), radius=12, fill=(236, 236, 232), outline=(80, 80, 80))
    draw.ellipse((px + 120, py + 15, px + 160, py + 55), fill=(40, 44, 60), outline=(20, 20, 20), width=3)
    draw.ellipse((px + 20, py + 25, px + 32, py + 37), fill=(230, 120, 40))  # the lamp warning light
    cone = Image.new("L", (width, height), 0)
    ImageDraw.Draw(cone).polygon([(px + 150, py + 30), (sx0, sy0), (sx0, sy1)], fill=55)
    img.paste((255, 250, 220), mask=cone.filter(ImageFilter.GaussianBlur(18)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def attach_demo_photo(session: Session, institution_id: int, semester: Semester) -> Problem | None:
    """A projector problem raised in a record gets the demo photo, as its raiser's: preferably one of
    ``semester`` still open (the execution report lists it and its unit can still resolve it), else the
    newest; ``None`` when the generated records raised none."""
    candidates = session.scalars(
        select(Problem).where(
            Problem.institution_id == institution_id,
            Problem.description.contains("投影仪"),
            Problem.observation_id.is_not(None),
        )
    ).all()
    if not candidates:
        return None
    start = dt.datetime.combine(semester.start_date, dt.time(), dt.UTC)
    problem = max(
        candidates,
        key=lambda p: (
            p.created_at >= start,
            p.status in (ProblemStatus.NEW.value, ProblemStatus.ACCEPTED.value),
            p.created_at,
        ),
    )
    photos = PhotoService(session, institution_id)
    if photos.count(problem.id) == 0:
        upload = PhotoUpload("projector.jpg", io.BytesIO(projector_picture()))
        photos.add(problem, [upload], stage=PhotoStage.RAISED, person_id=problem.raised_by_id)
    return problem


def handler_of(session: Session, problem: Problem) -> Person | None:
    """Somebody of the problem's unit, to launch as and see the photo on the handler's page."""
    return session.scalars(
        select(Person)
        .where(Person.institution_id == problem.institution_id, Person.unit_id == problem.unit_id)
        .order_by(Person.employee_no)
    ).first()
