"""Safe timetable import (issue 11 §2): a preview before anything is stored, an update that never removes
what the file does not mention, a replace only when asked for and confirmed, archived semesters skipped in
one line, errors listed by row and column on the form, and a confirmation that applies exactly the preview.
"""

from __future__ import annotations

import datetime as dt
import io
import re

from sqlalchemy import func, select, update

from lti_tool.timetable.importer import TimetableImporter
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    PendingTimetableImport,
    Semester,
    SemesterStatus,
)
from tests.functional.timetable.test_import import (
    HEADER_EN,
    SEMESTER,
    _observe,
    csrf_of,
    csv_bytes,
    qc_launch,
    setup_semester,
)
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser

# A college-sized timetable in miniature: 120 courses, one section each, every week.
COLLEGE = [
    [
        SEMESTER,
        f"G{n:03d}",
        f"课程{n:03d}",
        "专业必修",
        "计算机学院",
        "T001" if n % 2 else "T002",
        f"计算机23{n % 40:02d}",
        "计算机学院",
        str(n % 5 + 1),
        ["1-2", "3-4", "5-6"][n % 3],
        "1-16",
        f"B{n:03d}",
        "是",
    ]
    for n in range(120)
]
ONE_ROW = [[*COLLEGE[0][:11], "A999", "是"]]  # G000 moves room: the file mentions nothing else


def counts(session_factory) -> tuple[int, int]:
    with session_factory() as s:
        return (
            int(s.scalar(select(func.count()).select_from(CourseSection)) or 0),
            int(s.scalar(select(func.count()).select_from(ClassSession)) or 0),
        )


def preview(client, qc, data: bytes, mode: str = "update", filename: str = "课表.csv"):
    page = qc.get(client, "/timetable/import")
    assert page.status_code == 200
    return client.post(
        f"/timetable/import?s={qc.token}",
        data={
            "csrf": csrf_of(page.get_data(as_text=True)),
            "file": (io.BytesIO(data), filename),
            "mode": mode,
        },
        content_type="multipart/form-data",
    )


def confirm(client, qc, preview_page: str, **extra: str):
    token = re.search(r'name="token" value="([^"]+)"', preview_page)
    assert token, "the preview has no confirmation form"
    return client.post(
        f"/timetable/import/confirm?s={qc.token}",
        data={"csrf": csrf_of(preview_page), "token": token.group(1), **extra},
    )


def summary(page: str) -> dict[str, int]:
    """The preview's numbers by their key."""
    return {key: int(n) for key, n in re.findall(r'data-count="([a-z-]+)"[^>]*><strong>(\d+)</strong>', page)}


def test_a_one_row_file_deletes_nothing_it_does_not_mention(
    roster, launcher, client, session_factory
) -> None:
    """The regression: a one-row file removed 1,048 sections and 15,513 sessions under a green banner."""
    setup_semester(session_factory, roster, COLLEGE)
    before = counts(session_factory)
    assert before == (120, 120 * 15)  # 16 weeks less the National Day week's one day
    qc = qc_launch(launcher)

    response = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW]))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    numbers = summary(page)
    assert numbers["sections-removed"] == 0 and numbers["sessions-removed"] == 0
    assert numbers["sections-changed"] == 1 and numbers["sessions-changed"] == 15
    assert "文件未列出的课程的 119 个教学班保持不变" in page  # 119 sections of courses not listed stay
    assert counts(session_factory) == before  # the preview stored nothing

    done = confirm(client, qc, page)
    assert done.status_code == 200 and 'id="import-result"' in done.get_data(as_text=True)
    assert counts(session_factory) == before
    with session_factory() as s:
        rooms = set(
            s.scalars(select(ClassSession.room).join(CourseSection).join(Course).where(Course.code == "G000"))
        )
        assert rooms == {"A999"}
        assert s.scalar(select(func.count()).select_from(PendingTimetableImport)) == 0


def test_replacing_is_a_separate_confirmed_choice(roster, launcher, client, session_factory) -> None:
    setup_semester(session_factory, roster, COLLEGE)
    observed = _observe(session_factory, roster, "G007", dt.date(2026, 9, 16), "记录")
    before = counts(session_factory)
    qc = qc_launch(launcher)

    page = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW]), mode="replace").get_data(as_text=True)
    numbers = summary(page)
    assert numbers["sections-removed"] == 118  # G007 stays for its observed session
    assert numbers["sessions-removed"] == 119 * 15 - 1
    assert numbers["observed"] == 1
    observed_section = page[page.index('id="observed"') : page.index('id="removed"')]
    assert "G007" in observed_section and "已不在课表中" in observed_section  # 'no longer in the timetable'
    assert 'name="confirm_replace"' in page

    refused = confirm(client, qc, page)  # the box not ticked
    assert refused.status_code == 422
    assert 'id="import-error"' in refused.get_data(as_text=True)
    assert counts(session_factory) == before

    done = confirm(client, qc, page, confirm_replace="1")
    assert done.status_code == 200
    assert counts(session_factory) == (2, 15 + 1)
    with session_factory() as s:
        assert s.get(ClassSession, observed).status == "vanished"


def test_the_confirmation_refuses_when_the_timetable_changed_since_the_preview(
    roster, launcher, client, session_factory
) -> None:
    setup_semester(session_factory, roster, COLLEGE)
    qc = qc_launch(launcher)
    page = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW])).get_data(as_text=True)
    other = [[*COLLEGE[0][:11], "C100", "是"]]
    with session_factory.begin() as s:  # somebody else imports G000 in another room meanwhile
        TimetableImporter(s, roster).import_file(csv_bytes([HEADER_EN, *other]), "other.csv")

    refused = confirm(client, qc, page)
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "预览之后课表" in text and 'id="file"' in text  # changed since the preview; the form again
    with session_factory() as s:
        rooms = set(
            s.scalars(select(ClassSession.room).join(CourseSection).join(Course).where(Course.code == "G000"))
        )
        assert rooms == {"C100"}


def test_an_expired_or_used_preview_is_refused(roster, launcher, client, session_factory) -> None:
    setup_semester(session_factory, roster, COLLEGE[:3])
    qc = qc_launch(launcher)
    page = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW])).get_data(as_text=True)
    assert confirm(client, qc, page).status_code == 200
    again = confirm(client, qc, page)
    assert again.status_code == 404 and 'id="file"' in again.get_data(as_text=True)

    page = preview(client, qc, csv_bytes([HEADER_EN, *COLLEGE[:3]])).get_data(as_text=True)
    with session_factory.begin() as s:
        s.execute(update(PendingTimetableImport).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    assert confirm(client, qc, page).status_code == 404


def test_rows_of_an_archived_semester_are_skipped_in_one_line(
    roster, launcher, client, session_factory
) -> None:
    setup_semester(session_factory, roster, COLLEGE)
    with session_factory.begin() as s:
        s.execute(update(Semester).values(status=SemesterStatus.ARCHIVED.value))
    qc = qc_launch(launcher)
    response = preview(client, qc, csv_bytes([HEADER_EN, *COLLEGE]))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("已归档学期 2026-2027-1 的 120 行已跳过") == 1  # 120 rows … skipped, in one line
    assert "row 2" not in page and 'id="nothing"' in page and 'id="confirm-import"' not in page


def test_a_bad_file_goes_back_to_the_form_with_its_problems_by_row_and_column(
    roster, launcher, client, session_factory
) -> None:
    setup_semester(session_factory, roster, COLLEGE[:3])
    qc = qc_launch(launcher)
    bad = [COLLEGE[0], [*COLLEGE[1][:5], "X999", *COLLEGE[1][6:]], [*COLLEGE[2][:8], "9", *COLLEGE[2][9:]]]
    response = preview(client, qc, csv_bytes([HEADER_EN, *bad]), mode="replace")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "row 3, column teacher_no" in page and "row 4, column weekday" in page
    assert 'id="file"' in page and 'value="replace" checked' in page  # the form, the choice kept
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PendingTimetableImport)) == 0
    no_file = client.post(
        f"/timetable/import?s={qc.token}", data={"csrf": csrf_of(page)}, content_type="multipart/form-data"
    )
    assert no_file.status_code == 400 and 'id="file"' in no_file.get_data(as_text=True)


def test_only_the_quality_center_confirms(roster, launcher, client, session_factory) -> None:
    setup_semester(session_factory, roster, COLLEGE[:3])
    qc = qc_launch(launcher)
    page = preview(client, qc, csv_bytes([HEADER_EN, *ONE_ROW])).get_data(as_text=True)
    teacher = launcher.launch(LmsUser("t-1", "张老师", "t1@jti.edu", "T001", [ROLE_INSTRUCTOR]))
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token
    home = teacher.get(client, "/home")
    response = client.post(
        f"/timetable/import/confirm?s={teacher.token}",
        data={"csrf": csrf_of(home.get_data(as_text=True)), "token": token.group(1)},
    )
    assert response.status_code == 403
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PendingTimetableImport)) == 1


def test_cli_is_a_dry_run_unless_asked_to_apply(roster, run_cli, session_factory, tmp_path) -> None:
    setup_semester(session_factory, roster, COLLEGE)
    before = counts(session_factory)
    one = tmp_path / "one.csv"
    one.write_bytes(csv_bytes([HEADER_EN, *ONE_ROW]))

    dry = run_cli("import", "timetable", str(one))
    assert dry.exit_code == 0, dry.output
    assert "timetable (update): 1 rows" in dry.output
    assert "1 changed, 0 removed" in dry.output and "119 not in the file kept" in dry.output
    assert "dry run: nothing stored" in dry.output

    replace = run_cli("import", "timetable", str(one), "--replace")
    assert "timetable (replace)" in replace.output and "119 removed" in replace.output
    assert "dry run: nothing stored" in replace.output
    assert counts(session_factory) == before

    applied = run_cli("import", "timetable", str(one), "--apply")
    assert applied.exit_code == 0 and "imported" in applied.output
    assert counts(session_factory) == before
    replaced = run_cli("import", "timetable", str(one), "--replace", "--apply")
    assert replaced.exit_code == 0 and "imported" in replaced.output
    assert counts(session_factory) == (1, 15)


def test_a_preview_of_new_courses_is_the_same_each_time(roster, session_factory) -> None:
    """The digest names what changes by keys a confirmation reproduces: not the ids a rolled-back preview
    drew from a sequence (PostgreSQL does not give them back)."""
    setup_semester(session_factory, roster)
    data = csv_bytes([HEADER_EN, *COLLEGE[:5]])
    digests = set()
    for _ in range(2):
        with session_factory.begin() as s:
            digests.add(TimetableImporter(s, roster).preview(data, "t.csv").digest)
    assert len(digests) == 1
