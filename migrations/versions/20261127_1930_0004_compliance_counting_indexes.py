"""compliance counting: covering indexes on observation and observation_member

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 19:30:00

The compliance service reads each person's counted memberships by observation_member(person_id, status,
…) and counts the semester's records by observation(session_id, status, is_supervision); with these
indexes each of those steps is answered from the index alone on SQLite (see lti_tool/policy/models.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observation_counting", ["session_id", "status", "is_supervision"], unique=False
        )
    with op.batch_alter_table("observation_member", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observation_member_person_counting",
            ["person_id", "status", "session_id", "observation_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("observation_member", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_member_person_counting")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_counting")
