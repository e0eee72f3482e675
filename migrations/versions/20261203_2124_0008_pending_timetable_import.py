"""pending timetable imports: an uploaded timetable waiting for its confirmation (issue 11 §2)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 21:24:05

The quality center's upload is kept with the digest of the changes its preview showed
(lti_tool/timetable/importer.py); confirming applies the same file only if it makes exactly those changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_timetable_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("replace", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["person.id"],
            name=op.f("fk_pending_timetable_import_created_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_pending_timetable_import_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_timetable_import")),
        sa.UniqueConstraint("token", name=op.f("uq_pending_timetable_import_token")),
    )
    with op.batch_alter_table("pending_timetable_import", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_timetable_import_institution_id"), ["institution_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_timetable_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_timetable_import_institution_id"))

    op.drop_table("pending_timetable_import")
