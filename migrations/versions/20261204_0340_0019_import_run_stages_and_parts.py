"""import runs: stages (preview, apply), options, and the file in pieces

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 03:40:00

Every page import goes through an import run (issue 13 §5): a run may first preview what it would change
(``stage``, ``options``, ``preview``), and its file is stored a piece at a time (``import_run_part``) so a
web worker never holds a large upload.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=16), nullable=False, server_default="import"))
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("preview", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "import_run_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_run.id"],
            name=op.f("fk_import_run_part_run_id_import_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run_part")),
    )
    with op.batch_alter_table("import_run_part", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_run_part_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_run_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_run_part_run_id"))
    op.drop_table("import_run_part")
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.drop_column("preview")
        batch_op.drop_column("options")
        batch_op.drop_column("stage")
