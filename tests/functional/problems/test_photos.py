"""Photos as evidence of a problem, through the real pages (issue 15 §4): raised with a patrol's problem,
added by the unit resolving it, served only to whoever may see the problem, removed by their uploader."""

from __future__ import annotations

import datetime as dt
import io
import re

from PIL import ExifTags, Image
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from lti_tool import clock
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.patrols.models import Patrol
from lti_tool.policy.store import PolicyStore
from lti_tool.problems import photos
from lti_tool.problems.models import Photo, Problem
from lti_tool.problems.photos import PhotoLimits, PhotoService, PhotoUpload
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.timetable.models import Semester
from tests.conftest import make_institution
from tests.support.images import phone_jpeg
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _seed(session_factory, institution_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    today = clock.today()
    monday = today - dt.timedelta(days=today.weekday() + 7 * 9)
    with session_factory.begin() as s:
        units = {
            code: Unit(institution_id=institution_id, code=code, name=name, kind="department", function=fn)
            for code, name, fn in [
                ("BWC", "保卫处", ""),
                ("ZC", "资产管理处", ""),
                ("HQ", "后勤管理处", ""),
                ("ZK", "质控中心", "quality_center"),
                ("JD", "机电工程学院", ""),
            ]
        }
        units["JD"].kind = "college"
        s.add_all(units.values())
        s.add(Semester(institution_id=institution_id, code="S1", week1_monday=monday, weeks=16, holidays=[]))
        s.flush()
        guard = Person(
            institution_id=institution_id, employee_no="9001", name="保卫处长", unit_id=units["BWC"].id
        )
        guard.positions.append(
            PositionHolding(institution_id=institution_id, position_code="head_security", start_date=monday)
        )
        people = [
            guard,
            Person(
                institution_id=institution_id, employee_no="9003", name="资产干事", unit_id=units["ZC"].id
            ),
            Person(
                institution_id=institution_id, employee_no="9002", name="后勤干事", unit_id=units["HQ"].id
            ),
            Person(
                institution_id=institution_id, employee_no="9100", name="质控老师", unit_id=units["ZK"].id
            ),
            Person(institution_id=institution_id, employee_no="T001", name="李老师", unit_id=units["JD"].id),
        ]
        s.add_all(people)
        s.flush()
        return {"zc_unit": units["ZC"].id, "guard": guard.id}


def _raise_with_photo(client, guard, zc_unit: int, photos: list[tuple[bytes, str]]):  # type: ignore[no-untyped-def]
    csrf = _csrf(guard.get(client, "/patrols/").get_data(as_text=True))
    return client.post(
        f"/patrols/?s={guard.token}",
        data={
            "csrf": csrf,
            "date": clock.today().isoformat(),
            "rooms": "教学楼A",
            "checked": ["facilities"],
            "problem_category_0": "facilities",
            "problem_unit_0": str(zc_unit),
            "problem_room_0": "A101",
            "problem_description_0": "投影仪灯泡损坏，无法投影",
            "problem_photos_0": [(io.BytesIO(data), name) for data, name in photos],
        },
        content_type="multipart/form-data",
    )


def _user(no: str, name: str) -> LmsUser:
    return LmsUser(f"u-{no}", name, "", no, [ROLE_INSTRUCTOR])


def test_a_projector_photo_reaches_the_handler_without_its_gps_and_only_those_who_may_see_it(  # type: ignore[no-untyped-def]
    session_factory, institution_id, launcher, client
):
    ids = _seed(session_factory, institution_id)
    guard = launcher.launch(_user("9001", "保卫处长"))
    page = guard.get(client, "/patrols/").get_data(as_text=True)
    assert (
        'accept="image/*" capture="environment" multiple' in page and 'enctype="multipart/form-data"' in page
    )

    response = _raise_with_photo(client, guard, ids["zc_unit"], [(phone_jpeg(), "IMG_2041.jpg")])
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]

    with session_factory() as s:
        problem = s.scalars(select(Problem)).one()
        photo = s.scalars(select(Photo).options(undefer(Photo.data), undefer(Photo.thumbnail))).one()
        assert (photo.problem_id, photo.uploaded_by_id, photo.stage) == (problem.id, ids["guard"], "raised")
        for stored in (photo.data, photo.thumbnail):
            with Image.open(io.BytesIO(stored)) as img:
                assert len(img.getexif()) == 0 and not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
            assert b"PhoneMakerCo" not in stored
        assert (photo.width, photo.height) == (200, 400)  # the phone's orientation applied
    problem_id, photo_id = problem.id, photo.id

    # The handler's page shows it; the photo and its thumbnail are served privately, never sniffed.
    handler = launcher.launch(_user("9003", "资产干事"))
    html = handler.get(client, f"/problems/{problem_id}").get_data(as_text=True)
    assert f"/problems/photos/{photo_id}/thumbnail" in html
    for path, kind in (
        (f"/problems/photos/{photo_id}", "image/jpeg"),
        (f"/problems/photos/{photo_id}/thumbnail", "image/jpeg"),
    ):
        served = handler.get(client, path)
        assert served.status_code == 200 and served.mimetype == kind
        assert served.headers["Cache-Control"] == "no-store"  # not even the person's own browser keeps it
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Disposition"].startswith("inline")
        with Image.open(io.BytesIO(served.get_data())) as img:
            assert len(img.getexif()) == 0

    # The raiser and the quality center see it too.
    assert guard.get(client, f"/problems/photos/{photo_id}").status_code == 200
    qc = launcher.launch(_user("9100", "质控老师"))
    assert f"/problems/photos/{photo_id}/thumbnail" in qc.get(client, f"/problems/{problem_id}").get_data(
        as_text=True
    )
    assert qc.get(client, f"/problems/photos/{photo_id}").status_code == 200

    # A handler of another unit and a teacher may not see it.
    other_unit = launcher.launch(_user("9002", "后勤干事"))
    assert other_unit.get(client, f"/problems/{problem_id}").status_code == 403
    assert other_unit.get(client, f"/problems/photos/{photo_id}").status_code == 403
    assert other_unit.get(client, f"/problems/photos/{photo_id}/thumbnail").status_code == 403
    teacher = launcher.launch(_user("T001", "李老师"))
    assert teacher.get(client, f"/problems/photos/{photo_id}").status_code in (403, 404)

    # Another institution's photo is one that does not exist.
    other = make_institution(session_factory, "OTHER", "另一所学院")
    with session_factory.begin() as s:
        someone = Person(institution_id=other, employee_no="X1", name="别校人员")
        unit = Unit(institution_id=other, code="ZC", name="资产处", kind="department")
        s.add_all([someone, unit])
        s.flush()
        policy = PolicyStore(s, other).current()
        (foreign,) = ProblemService(s, other, policy).raise_problems(
            [
                NewProblem(
                    "facilities",
                    unit.id,
                    "B1",
                    "别校的问题",
                    [PhotoUpload("a.jpg", io.BytesIO(phone_jpeg()))],
                )
            ],
            someone.id,
        )
        foreign_photo = s.scalars(select(Photo.id).where(Photo.problem_id == foreign.id)).one()
    assert qc.get(client, f"/problems/photos/{foreign_photo}").status_code == 404
    assert qc.get(client, f"/problems/photos/{foreign_photo}/thumbnail").status_code == 404


def test_the_unit_resolves_with_a_photo_and_the_uploader_alone_removes_it(  # type: ignore[no-untyped-def]
    session_factory, institution_id, launcher, client
):
    ids = _seed(session_factory, institution_id)
    guard = launcher.launch(_user("9001", "保卫处长"))
    assert _raise_with_photo(client, guard, ids["zc_unit"], [(phone_jpeg(), "before.jpg")]).status_code == 303
    with session_factory() as s:
        problem_id = s.scalars(select(Problem.id)).one()
    handler = launcher.launch(_user("9003", "资产干事"))
    page = handler.get(client, f"/problems/{problem_id}").get_data(as_text=True)
    assert 'capture="environment"' in page
    csrf = _csrf(page)
    client.post(f"/problems/{problem_id}/step?s={handler.token}", data={"csrf": csrf, "status": "accepted"})
    done = client.post(
        f"/problems/{problem_id}/step?s={handler.token}",
        data={
            "csrf": csrf,
            "status": "resolved",
            "note": "已更换投影仪灯泡",
            "photos": [(io.BytesIO(phone_jpeg(orientation=1)), "after.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 303
    with session_factory() as s:
        stages = dict(s.execute(select(Photo.stage, Photo.uploaded_by_id).order_by(Photo.id)).all())
        assert set(stages) == {"raised", "resolution"}
        resolution = s.scalars(select(Photo.id).where(Photo.stage == "resolution")).one()
        raised = s.scalars(select(Photo.id).where(Photo.stage == "raised")).one()
        assert s.get(Problem, problem_id).status == "resolved"

    # The raiser cannot remove the unit's photo; the unit removes its own (the page asks first).
    guard_page = guard.get(client, f"/problems/{problem_id}").get_data(as_text=True)
    assert (
        f"/problems/photos/{raised}/remove" in guard_page
        and f"/problems/photos/{resolution}/remove" not in guard_page
    )
    refused = client.post(
        f"/problems/photos/{resolution}/remove?s={guard.token}", data={"csrf": _csrf(guard_page)}
    )
    assert refused.status_code == 403
    page = handler.get(client, f"/problems/{problem_id}").get_data(as_text=True)
    assert '<details class="remove-photo">' in page
    removed = client.post(
        f"/problems/photos/{resolution}/remove?s={handler.token}", data={"csrf": _csrf(page)}
    )
    assert removed.status_code == 303
    with session_factory() as s:
        assert s.scalars(select(Photo.id)).all() == [raised]


def test_bad_photos_are_refused_naming_the_limit_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    session_factory, institution_id, launcher, client, monkeypatch
):
    ids = _seed(session_factory, institution_id)
    guard = launcher.launch(_user("9001", "保卫处长"))

    not_a_picture = _raise_with_photo(
        client, guard, ids["zc_unit"], [(b"#!/bin/sh\necho hi\n", "projector.jpg")]
    )
    assert not_a_picture.status_code == 422
    assert "projector.jpg" in not_a_picture.get_data(as_text=True)

    seven = [(phone_jpeg(60, 40, orientation=1), f"p{i}.jpg") for i in range(7)]
    too_many = _raise_with_photo(client, guard, ids["zc_unit"], seven)
    assert too_many.status_code == 413
    assert "6" in too_many.get_data(as_text=True)

    # The size limit (TINGKE_PHOTO_MAX_BYTES), lowered here so the test client keeps the body in memory.
    monkeypatch.setattr(photos, "_LIMITS", PhotoLimits(max_bytes=256 * 1024))
    big = phone_jpeg(60, 40, orientation=1) + b"\0" * (300 * 1024)
    too_big = _raise_with_photo(client, guard, ids["zc_unit"], [(phone_jpeg(), "ok.jpg"), (big, "huge.jpg")])
    assert too_big.status_code == 413
    assert "huge.jpg" in too_big.get_data(as_text=True) and "0.25 MB" in too_big.get_data(as_text=True)
    monkeypatch.undo()

    with session_factory() as s:  # neither the patrol, nor its problem, nor the good photo beside the bad one
        assert s.scalar(select(func.count()).select_from(Patrol)) == 0
        assert s.scalar(select(func.count()).select_from(Problem)) == 0
        assert s.scalar(select(func.count()).select_from(Photo)) == 0

    # At most six per problem, counting the ones it has.
    five = [(phone_jpeg(60, 40, orientation=1), f"p{i}.jpg") for i in range(5)]
    assert _raise_with_photo(client, guard, ids["zc_unit"], five).status_code == 303
    with session_factory() as s:
        problem_id = s.scalars(select(Problem.id)).one()
    page = guard.get(client, f"/problems/{problem_id}").get_data(as_text=True)
    more = client.post(
        f"/problems/{problem_id}/photos?s={guard.token}",
        data={
            "csrf": _csrf(page),
            "photos": [(io.BytesIO(phone_jpeg(60, 40)), f"q{i}.jpg") for i in range(2)],
        },
        content_type="multipart/form-data",
    )
    assert more.status_code == 413
    one = client.post(
        f"/problems/{problem_id}/photos?s={guard.token}",
        data={"csrf": _csrf(page), "photos": [(io.BytesIO(phone_jpeg(60, 40)), "q.jpg")]},
        content_type="multipart/form-data",
    )
    assert one.status_code == 303
    with session_factory() as s:
        assert PhotoService(s, institution_id).count(problem_id) == 6
    assert "add-photos" not in guard.get(client, f"/problems/{problem_id}").get_data(as_text=True)
