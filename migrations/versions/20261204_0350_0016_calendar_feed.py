"""calendar_feed: each person's secret calendar (ICS) address, stored as a SHA-256 digest

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 03:50:00

lti_tool/calendar_feed/models.py: one row per person with the digest of the secret in their calendar
address (issue 15 item 5); resetting the address replaces the digest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(), nullable=False),
        sa.Column("reset_at", lti_tool.db.UTCDateTime(), nullable=True),
        sa.Column("fetched_at", lti_tool.db.UTCDateTime(), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_calendar_feed_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_calendar_feed_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feed")),
        sa.UniqueConstraint("person_id", name=op.f("uq_calendar_feed_person_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feed_token_hash")),
    )
    op.create_index(
        op.f("ix_calendar_feed_institution_id"), "calendar_feed", ["institution_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_feed_institution_id"), table_name="calendar_feed")
    op.drop_table("calendar_feed")
