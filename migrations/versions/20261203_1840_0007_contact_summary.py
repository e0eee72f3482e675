"""contact summaries: each leader's year-end summary of their contact work (C-7b)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:40:00

One row per person and academic year (lti_tool/contacts/summaries.py): the text drafted from the records
and edited by the leader, its status, when it was submitted and when the school office received it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.String(length=9), nullable=False),
        sa.Column("activities", sa.Text(), nullable=False),
        sa.Column("opinions", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("reflection", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_contact_summary_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_contact_summary_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["received_by_id"],
            ["person.id"],
            name=op.f("fk_contact_summary_received_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_summary")),
        sa.UniqueConstraint(
            "institution_id",
            "person_id",
            "academic_year",
            name=op.f("uq_contact_summary_institution_id_person_id_academic_year"),
        ),
    )
    with op.batch_alter_table("contact_summary", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_summary_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contact_summary_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact_summary", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_summary_person_id"))
        batch_op.drop_index(batch_op.f("ix_contact_summary_institution_id"))
    op.drop_table("contact_summary")
