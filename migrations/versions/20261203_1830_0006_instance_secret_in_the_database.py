"""instance secret in the database (shared by every app and worker host)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 18:30:00

Expand-only: a new table that the previous release's code never reads (README, "Migrations on a running
system").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_secret")),
    )


def downgrade() -> None:
    op.drop_table("instance_secret")
