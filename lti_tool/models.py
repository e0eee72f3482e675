"""Imports every domain's models so that ``Base.metadata`` is complete (Alembic, tests)."""

from lti_tool.calendar_feed.models import CalendarFeed
from lti_tool.compliance.models import PolicySwitch
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.db import Base
from lti_tool.directory.models import Person, PlatformUser, PositionHolding, StudentClass, Unit
from lti_tool.import_runs.models import ImportRun
from lti_tool.lti.models import Deployment, DownloadTicket, LaunchSession, LoginState, Platform, ToolKey
from lti_tool.notifications.models import ChannelSetting, Notification, Preference
from lti_tool.observations.models import Observation, ObservationAudit, ObservationMember, ObservationRating
from lti_tool.outreach.models import (
    CongressSession,
    FollowUp,
    FollowUpEvent,
    FollowUpUnit,
    Letter,
    Portfolio,
    Proposal,
    ReceptionDuty,
    ReceptionRecord,
    ReceptionVisit,
)
from lti_tool.patrols.models import Patrol
from lti_tool.policy.models import PolicyVersion
from lti_tool.problems.models import Photo, Problem, ProblemEvent
from lti_tool.reminders.models import Reminder, ReminderCheckpoint
from lti_tool.reports.models import ReportRun, StatisticsSnapshot
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseContextMapping,
    CourseSection,
    PendingTimetableImport,
    Period,
    SectionTeacher,
    Semester,
    SemesterEvent,
)

__all__ = [
    "Base",
    "CalendarFeed",
    "ChannelSetting",
    "ClassSession",
    "CongressSession",
    "ContactMember",
    "ContactPoint",
    "ContactRecord",
    "ContactSummary",
    "Course",
    "CourseContextMapping",
    "CourseSection",
    "Deployment",
    "DownloadTicket",
    "FollowUp",
    "FollowUpEvent",
    "FollowUpUnit",
    "ImportRun",
    "Institution",
    "LaunchSession",
    "Letter",
    "LoginState",
    "Notification",
    "Observation",
    "ObservationAudit",
    "ObservationMember",
    "ObservationRating",
    "Patrol",
    "PendingTimetableImport",
    "Period",
    "Person",
    "Platform",
    "PlatformUser",
    "PolicySwitch",
    "PolicyVersion",
    "Portfolio",
    "PositionHolding",
    "Preference",
    "Photo",
    "Problem",
    "ProblemEvent",
    "Proposal",
    "ReceptionDuty",
    "ReceptionRecord",
    "ReceptionVisit",
    "Reminder",
    "ReminderCheckpoint",
    "ReportRun",
    "SectionTeacher",
    "Semester",
    "SemesterEvent",
    "StatisticsSnapshot",
    "StudentClass",
    "ToolKey",
    "Unit",
]
