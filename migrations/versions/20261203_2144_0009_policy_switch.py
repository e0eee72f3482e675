"""policy switches: a running semester moved to a corrected policy version, audited (issue 11 §10)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 21:44:09

One row per switch (lti_tool/compliance/policy_switch.py): who, when, why, from which version to which, and
the semester's compliance under each. Both versions stay stored; reports already made keep theirs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_switch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("semester_id", sa.Integer(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=False),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("standings", sa.JSON(), nullable=False),
        sa.Column("at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_version_id"],
            ["policy_version.id"],
            name=op.f("fk_policy_switch_from_version_id_policy_version"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_policy_switch_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_policy_switch_person_id_person"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["semester_id"],
            ["semester.id"],
            name=op.f("fk_policy_switch_semester_id_semester"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_version_id"],
            ["policy_version.id"],
            name=op.f("fk_policy_switch_to_version_id_policy_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_switch")),
    )
    with op.batch_alter_table("policy_switch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_switch_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_switch_semester_id"), ["semester_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_switch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_switch_semester_id"))
        batch_op.drop_index(batch_op.f("ix_policy_switch_institution_id"))

    op.drop_table("policy_switch")
