"""problem photos: re-encoded images of a problem, raised or resolved (issue 15 §4)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:30:00

``problem_photo``: a photo attached by the person who raised a problem or by the unit resolving it, as
Tingke re-encoded it (no EXIF), with its thumbnail, in the database so every host and backup has it
(lti_tool/problems/photos.py). A new table only: the previous release never reads it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "problem_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_problem_photo_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"],
            ["problem.id"],
            name=op.f("fk_problem_photo_problem_id_problem"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["person.id"],
            name=op.f("fk_problem_photo_uploaded_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem_photo")),
    )
    op.create_index(
        op.f("ix_problem_photo_institution_id"), "problem_photo", ["institution_id"], unique=False
    )
    op.create_index(op.f("ix_problem_photo_problem_id"), "problem_photo", ["problem_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_problem_photo_problem_id"), table_name="problem_photo")
    op.drop_index(op.f("ix_problem_photo_institution_id"), table_name="problem_photo")
    op.drop_table("problem_photo")
