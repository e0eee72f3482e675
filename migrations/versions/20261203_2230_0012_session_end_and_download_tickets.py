"""sessions that end (logout), link tokens a relaunch retires, one-time download tickets

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 22:30:00

``launch_session.ended_at``: a logout ends the session, so its cookie and tokens stop working (the row
stays for the recent LMS courses); ``launch_session.token_epoch``: a relaunch of the same person moves it
on, retiring every link token issued before. ``download_ticket``: the used one-time tickets that download
links carry when the browser keeps no session cookie (issue 13 §2).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("launch_session") as batch:
        batch.add_column(sa.Column("ended_at", lti_tool.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("token_epoch", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "download_ticket",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", lti_tool.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_download_ticket")),
    )
    op.create_index(op.f("ix_download_ticket_expires_at"), "download_ticket", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_download_ticket_expires_at"), table_name="download_ticket")
    op.drop_table("download_ticket")
    with op.batch_alter_table("launch_session") as batch:
        batch.drop_column("token_epoch")
        batch.drop_column("ended_at")
