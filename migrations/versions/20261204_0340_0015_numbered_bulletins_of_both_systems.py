"""numbered shortfall bulletins of both systems: the checkpoint, the issuer, the number, the lines (C-7c)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 03:40:00

``report_run.as_of`` (a bulletin's checkpoint), ``issuer`` (the office that issues it), ``number_year`` and
``number`` (〔2026〕3号, unique per institution, kind and year, so two workers never claim one number twice);
``bulletin_entry``: the lines of an issued bulletin — who is short of which duty, required / done / short —
which each named leader reads on their own page.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_run") as batch:
        batch.add_column(sa.Column("as_of", sa.Date(), nullable=True))
        batch.add_column(sa.Column("issuer", sa.String(length=32), server_default="", nullable=False))
        batch.add_column(sa.Column("number_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch.create_unique_constraint(
            "uq_report_run_number", ["institution_id", "kind", "number_year", "number"]
        )
    op.create_table(
        "bulletin_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=16), nullable=False),
        sa.Column("duty_zh", sa.Text(), nullable=False),
        sa.Column("duty_en", sa.Text(), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("short", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Text(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_bulletin_entry_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_bulletin_entry_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["report_run.id"],
            name=op.f("fk_bulletin_entry_run_id_report_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletin_entry")),
    )
    op.create_index(
        op.f("ix_bulletin_entry_institution_id"), "bulletin_entry", ["institution_id"], unique=False
    )
    op.create_index(op.f("ix_bulletin_entry_person_id"), "bulletin_entry", ["person_id"], unique=False)
    op.create_index(op.f("ix_bulletin_entry_run_id"), "bulletin_entry", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bulletin_entry_run_id"), table_name="bulletin_entry")
    op.drop_index(op.f("ix_bulletin_entry_person_id"), table_name="bulletin_entry")
    op.drop_index(op.f("ix_bulletin_entry_institution_id"), table_name="bulletin_entry")
    op.drop_table("bulletin_entry")
    with op.batch_alter_table("report_run") as batch:
        batch.drop_constraint("uq_report_run_number", type_="unique")
        batch.drop_column("number")
        batch.drop_column("number_year")
        batch.drop_column("issuer")
        batch.drop_column("as_of")
