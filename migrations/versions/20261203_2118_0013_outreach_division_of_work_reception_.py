"""outreach: division of work, reception days, letters and proposals (C-6a, C-6b, C-6c)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 21:18:56

lti_tool/outreach/models.py: the leaders' division of work per academic year (leader_portfolio); the reception
roster (reception_duty: one school leader per teaching week), each week's record and its visitors; the one
follow-up loop of letters and proposals (follow_up, its assisting units and events) with letter, congress
session and proposal; problem.reception_visit_id for a visitor's follow-up routed through the problem loop.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "congress_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_congress_session_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_congress_session")),
        sa.UniqueConstraint(
            "institution_id", "body", "number", name=op.f("uq_congress_session_institution_id_body_number")
        ),
    )
    with op.batch_alter_table("congress_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_congress_session_institution_id"), ["institution_id"], unique=False
        )

    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("instructed_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("released_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["person.id"],
            name=op.f("fk_follow_up_answered_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_follow_up_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["person.id"], name=op.f("fk_follow_up_leader_id_person"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_follow_up_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_inst_status", ["institution_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_up_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_up_leader_id"), ["leader_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_up_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "leader_portfolio",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.String(length=9), nullable=False),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_leader_portfolio_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_leader_portfolio_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leader_portfolio")),
        sa.UniqueConstraint(
            "institution_id",
            "academic_year",
            "area",
            name=op.f("uq_leader_portfolio_institution_id_academic_year_area"),
        ),
    )
    with op.batch_alter_table("leader_portfolio", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leader_portfolio_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_leader_portfolio_person_id"), ["person_id"], unique=False)

    op.create_table(
        "follow_up_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_up.id"],
            name=op.f("fk_follow_up_event_follow_up_id_follow_up"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_follow_up_event_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_event")),
    )
    with op.batch_alter_table("follow_up_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_up_event_follow_up_id"), ["follow_up_id"], unique=False)

    op.create_table(
        "follow_up_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_up.id"],
            name=op.f("fk_follow_up_unit_follow_up_id_follow_up"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_follow_up_unit_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_follow_up_unit_unit_id_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_unit")),
        sa.UniqueConstraint("follow_up_id", "unit_id", name=op.f("uq_follow_up_unit_follow_up_id_unit_id")),
    )
    with op.batch_alter_table("follow_up_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_up_unit_follow_up_id"), ["follow_up_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_follow_up_unit_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_follow_up_unit_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("writer_person_id", sa.Integer(), nullable=True),
        sa.Column("writer_platform_user_id", sa.Integer(), nullable=True),
        sa.Column("writer_name", sa.String(length=100), nullable=False),
        sa.Column("writer_contact", sa.String(length=200), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["letter.id"],
            name=op.f("fk_letter_duplicate_of_id_letter"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_up.id"],
            name=op.f("fk_letter_follow_up_id_follow_up"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_letter_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["person.id"],
            name=op.f("fk_letter_registered_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["writer_person_id"],
            ["person.id"],
            name=op.f("fk_letter_writer_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["writer_platform_user_id"],
            ["platform_user.id"],
            name=op.f("fk_letter_writer_platform_user_id_platform_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter")),
    )
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letter_follow_up_id"), ["follow_up_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_letter_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_letter_writer_person_id"), ["writer_person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_letter_writer_platform_user_id"), ["writer_platform_user_id"], unique=False
        )

    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("proposer_name", sa.String(length=100), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=True),
        sa.Column("cosigners", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("satisfaction", sa.String(length=16), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_up.id"],
            name=op.f("fk_proposal_follow_up_id_follow_up"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_proposal_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"], ["person.id"], name=op.f("fk_proposal_proposer_id_person"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["person.id"],
            name=op.f("fk_proposal_registered_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["congress_session.id"],
            name=op.f("fk_proposal_session_id_congress_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
        sa.UniqueConstraint("session_id", "number", name=op.f("uq_proposal_session_id_number")),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_follow_up_id"), ["follow_up_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_proposal_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_proposer_id"), ["proposer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_session_id"), ["session_id"], unique=False)

    op.create_table(
        "reception_duty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("semester_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_reception_duty_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_reception_duty_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["semester_id"],
            ["semester.id"],
            name=op.f("fk_reception_duty_semester_id_semester"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reception_duty")),
        sa.UniqueConstraint("semester_id", "week", name=op.f("uq_reception_duty_semester_id_week")),
    )
    with op.batch_alter_table("reception_duty", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reception_duty_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reception_duty_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reception_duty_semester_id"), ["semester_id"], unique=False)

    op.create_table(
        "reception_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("duty_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("no_visitors", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["duty_id"],
            ["reception_duty.id"],
            name=op.f("fk_reception_record_duty_id_reception_duty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_reception_record_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["person.id"],
            name=op.f("fk_reception_record_recorded_by_id_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reception_record")),
    )
    with op.batch_alter_table("reception_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reception_record_duty_id"), ["duty_id"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_reception_record_institution_id"), ["institution_id"], unique=False
        )

    op.create_table(
        "reception_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("visitor_name", sa.String(length=100), nullable=False),
        sa.Column("identity", sa.String(length=16), nullable=False),
        sa.Column("visitor_unit", sa.String(length=200), nullable=False),
        sa.Column("matter", sa.Text(), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("follow_up_unit_id", sa.Integer(), nullable=True),
        sa.Column("follow_up_category", sa.String(length=32), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_unit_id"],
            ["unit.id"],
            name=op.f("fk_reception_visit_follow_up_unit_id_unit"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_reception_visit_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["reception_record.id"],
            name=op.f("fk_reception_visit_record_id_reception_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reception_visit")),
    )
    with op.batch_alter_table("reception_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reception_visit_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reception_visit_record_id"), ["record_id"], unique=False)

    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reception_visit_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_problem_reception_visit_id"), ["reception_visit_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_problem_reception_visit_id_reception_visit"),
            "reception_visit",
            ["reception_visit_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_problem_reception_visit_id_reception_visit"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_problem_reception_visit_id"))
        batch_op.drop_column("reception_visit_id")

    with op.batch_alter_table("reception_visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reception_visit_record_id"))
        batch_op.drop_index(batch_op.f("ix_reception_visit_institution_id"))

    op.drop_table("reception_visit")
    with op.batch_alter_table("reception_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reception_record_institution_id"))
        batch_op.drop_index(batch_op.f("ix_reception_record_duty_id"))

    op.drop_table("reception_record")
    with op.batch_alter_table("reception_duty", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reception_duty_semester_id"))
        batch_op.drop_index(batch_op.f("ix_reception_duty_person_id"))
        batch_op.drop_index(batch_op.f("ix_reception_duty_institution_id"))

    op.drop_table("reception_duty")
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_session_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_proposer_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_institution_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_follow_up_id"))

    op.drop_table("proposal")
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letter_writer_platform_user_id"))
        batch_op.drop_index(batch_op.f("ix_letter_writer_person_id"))
        batch_op.drop_index(batch_op.f("ix_letter_institution_id"))
        batch_op.drop_index(batch_op.f("ix_letter_follow_up_id"))

    op.drop_table("letter")
    with op.batch_alter_table("follow_up_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_unit_unit_id"))
        batch_op.drop_index(batch_op.f("ix_follow_up_unit_institution_id"))
        batch_op.drop_index(batch_op.f("ix_follow_up_unit_follow_up_id"))

    op.drop_table("follow_up_unit")
    with op.batch_alter_table("follow_up_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_event_follow_up_id"))

    op.drop_table("follow_up_event")
    with op.batch_alter_table("leader_portfolio", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leader_portfolio_person_id"))
        batch_op.drop_index(batch_op.f("ix_leader_portfolio_institution_id"))

    op.drop_table("leader_portfolio")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_unit_id"))
        batch_op.drop_index(batch_op.f("ix_follow_up_leader_id"))
        batch_op.drop_index(batch_op.f("ix_follow_up_institution_id"))
        batch_op.drop_index("ix_follow_up_inst_status")

    op.drop_table("follow_up")
    with op.batch_alter_table("congress_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_congress_session_institution_id"))

    op.drop_table("congress_session")
