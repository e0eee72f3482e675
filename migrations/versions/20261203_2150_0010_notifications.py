"""notifications: the outbox and log, each institution's channels, each person's choices; roster ids in
企业微信 and 钉钉

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 21:50:00

lti_tool/notifications: one ``notification`` row per person and channel (written with the domain change,
delivered by the worker), ``notification_channel`` per institution and channel, ``notification_preference``
per person, event and channel (no row: yes). ``person.wecom_userid`` / ``person.dingtalk_userid`` address
people in 企业微信 and 钉钉.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("wecom_userid", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("dingtalk_userid", sa.String(length=64), nullable=False, server_default="")
        )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("not_before", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["institution_id"], ["institution.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_notification_person_id"), "notification", ["person_id"])
    op.create_index(op.f("ix_notification_status"), "notification", ["status"])
    op.create_index(op.f("ix_notification_institution_id"), "notification", ["institution_id"])
    op.create_table(
        "notification_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=500), nullable=False),
        sa.Column("access_token", sa.String(length=1000), nullable=False),
        sa.Column("token_expires_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["institution_id"], ["institution.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("institution_id", "channel"),
    )
    op.create_index(
        op.f("ix_notification_channel_institution_id"), "notification_channel", ["institution_id"]
    )
    op.create_table(
        "notification_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["institution_id"], ["institution.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "event", "channel"),
    )
    op.create_index(op.f("ix_notification_preference_person_id"), "notification_preference", ["person_id"])
    op.create_index(
        op.f("ix_notification_preference_institution_id"), "notification_preference", ["institution_id"]
    )


def downgrade() -> None:
    op.drop_table("notification_preference")
    op.drop_table("notification_channel")
    op.drop_table("notification")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("dingtalk_userid")
        batch.drop_column("wecom_userid")
