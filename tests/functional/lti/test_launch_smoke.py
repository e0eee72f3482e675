"""The happy path: a real login + launch lands each kind of person on their page."""

from __future__ import annotations

from lti_tool.directory.models import Person, PositionHolding, Unit
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser


def _roster(session_factory, institution_id: int) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        qc = Unit(
            institution_id=institution_id,
            code="QC",
            name="教学质量监控与评价中心",
            kind="department",
            function="quality_center",
        )
        s.add(qc)
        s.flush()
        leader = Person(
            institution_id=institution_id, employee_no="1001", name="王校长", email="wang@jti.edu"
        )
        leader.positions.append(PositionHolding(institution_id=institution_id, position_code="school_leader"))
        s.add_all(
            [
                leader,
                Person(
                    institution_id=institution_id,
                    employee_no="2001",
                    name="李老师",
                    email="li@jti.edu",
                    unit_id=qc.id,
                ),
            ]
        )


def test_observer_lands_on_duties_page(session_factory, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    _roster(session_factory, institution_id)
    result = launcher.launch(LmsUser("u-1", "王校长", "wang@jti.edu", "1001", [ROLE_LEARNER]))
    page = result.get(client, "/home")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "O-1" in text and "王校长" in text


def test_email_fallback_and_quality_center(session_factory, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    _roster(session_factory, institution_id)
    result = launcher.launch(LmsUser("u-2", "Li", "LI@jti.edu", "", [ROLE_INSTRUCTOR]))
    page = result.get(client, "/home")
    assert page.status_code == 200
    assert "教学质量监控与评价中心" in page.get_data(as_text=True)


def test_learner_gets_polite_page(session_factory, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    result = launcher.launch(LmsUser("s-1", "Student", "s@jti.edu", "S001", [ROLE_LEARNER]))
    page = result.get(client, "/home")
    assert page.status_code == 200
    assert "students" in page.get_data(as_text=True) or "学生" in page.get_data(as_text=True)
