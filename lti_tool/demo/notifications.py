"""The demo college's notifications: channels set up against nothing real and a few messages.

企业微信, 钉钉 and Moodle are filled in with example values and left switched off (there is no real service
behind them); e-mail is on, so with no SMTP server the messages land as ``.eml`` files in the outbox
folder, and ``tingke demo`` delivers the few it writes at once. Every person gets example account ids
(their employee number) so the roster's columns are not empty.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.directory.models import Person
from lti_tool.notifications.events import Event
from lti_tool.notifications.services import NotificationService
from lti_tool.notifications.settings import ChannelSettingsService
from lti_tool.observations.models import Observation, ObservationStatus
from lti_tool.policy.schema import Policy
from lti_tool.problems.models import OPEN_STATUSES, Problem
from lti_tool.problems.services import ProblemService
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, SectionTeacher

EXAMPLE_CHANNELS = {
    "moodle": {"base_url": "https://moodle.example.edu"},
    "wecom": {"corpid": "ww0000000000demo", "agentid": "1000002"},
    "dingtalk": {"appkey": "dingdemo0000000000", "agent_id": "2000001"},
}


def seed_notifications(session: Session, inst: Institution, policy: Policy, *, records: int = 4) -> int:
    """Configure the channels and tell the teachers of the latest records and the units of the latest
    open problems; returns how many outbox rows were written."""
    settings = ChannelSettingsService(session, inst.id)
    for channel, options in EXAMPLE_CHANNELS.items():
        settings.save(channel, enabled=False, options=options)
    settings.save("email", enabled=True, options={})
    session.execute(
        update(Person)
        .where(Person.institution_id == inst.id, Person.wecom_userid == "")
        .values(wecom_userid=Person.employee_no, dingtalk_userid=Person.employee_no)
        .execution_options(synchronize_session=False)
    )
    notifications = NotificationService(session, inst.id)
    written = 0
    latest = session.execute(
        select(Observation, ClassSession)
        .join(ClassSession, ClassSession.id == Observation.session_id)
        .where(Observation.institution_id == inst.id, Observation.status == ObservationStatus.SUBMITTED)
        .order_by(Observation.submitted_at.desc())
        .limit(records)
    ).all()
    tz = clock.zone(inst)
    for obs, class_session in latest:
        teachers = session.scalars(
            select(SectionTeacher.person_id).where(SectionTeacher.section_id == class_session.section_id)
        )
        written += len(
            notifications.notify(
                Event.RECORD_AVAILABLE,
                teachers,
                {"course": class_session.section.course.name, "date": class_session.date.isoformat()},
                not_before=class_session.ends_local(tz),
                ref=f"observation:{obs.id}",
                once=True,
            )
        )
    problems = ProblemService(session, inst.id, policy)
    open_problems = session.scalars(
        select(Problem)
        .where(
            Problem.institution_id == inst.id,
            Problem.status.in_(OPEN_STATUSES),
            Problem.patrol_id.is_not(None),
        )
        .order_by(Problem.created_at.desc())
        .limit(2)
    ).all()
    written += problems.announce_routed(list(open_problems))
    session.flush()
    return written
