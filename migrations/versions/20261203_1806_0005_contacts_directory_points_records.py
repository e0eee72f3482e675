"""grassroots contacts: sub-units, party branches, student classes, contact points and records

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:06:10

The directory gains what Attachment 1 contacts (teaching offices, labs and party branches under a college,
student classes, each person's party membership and branch); the contacts domain gets its tables
(lti_tool/contacts/models.py); a problem may be raised in a contact record. New NOT NULL columns carry a
server default so existing rows get a value.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "student_class",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_student_class_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_student_class_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_class")),
        sa.UniqueConstraint("institution_id", "name", name=op.f("uq_student_class_institution_id_name")),
    )
    with op.batch_alter_table("student_class", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_student_class_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_student_class_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "contact_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.String(length=9), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("student_class_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_contact_point_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_contact_point_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_class_id"],
            ["student_class.id"],
            name=op.f("fk_contact_point_student_class_id_student_class"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_contact_point_unit_id_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_point")),
    )
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_point_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_point_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contact_point_student_class_id"), ["student_class_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contact_point_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(
            "ix_contact_point_year_person", ["institution_id", "academic_year", "person_id"], unique=False
        )

    op.create_table(
        "contact_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("student_class_id", sa.Integer(), nullable=True),
        sa.Column("target_label", sa.String(length=200), nullable=False),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("opinions", sa.Text(), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=False),
        sa.Column("leader_opinion", sa.Text(), nullable=False),
        sa.Column("reported_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("draft_version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("branch_confirmation", sa.String(length=16), nullable=False),
        sa.Column("branch_confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("branch_confirmed_at", lti_tool.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_on_paper", sa.Boolean(), nullable=False),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("created_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lti_tool.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["person.id"], name=op.f("fk_contact_record_author_id_person"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["branch_confirmed_by_id"],
            ["person.id"],
            name=op.f("fk_contact_record_branch_confirmed_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_point.id"],
            name=op.f("fk_contact_record_contact_point_id_contact_point"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_contact_record_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"],
            ["person.id"],
            name=op.f("fk_contact_record_reported_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_class_id"],
            ["student_class.id"],
            name=op.f("fk_contact_record_student_class_id_student_class"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_contact_record_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_record")),
    )
    with op.batch_alter_table("contact_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_record_author_id"), ["author_id"], unique=False)
        batch_op.create_index("ix_contact_record_inst_date", ["institution_id", "date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contact_record_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contact_record_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "contact_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_contact_member_institution_id_institution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_contact_member_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["contact_record.id"],
            name=op.f("fk_contact_member_record_id_contact_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_member")),
        sa.UniqueConstraint("record_id", "person_id", name=op.f("uq_contact_member_record_id_person_id")),
    )
    with op.batch_alter_table("contact_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_member_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index("ix_contact_member_person", ["person_id", "record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_member_record_id"), ["record_id"], unique=False)

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("party_member", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("branch_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_person_branch_id_unit"), "unit", ["branch_id"], ["id"], ondelete="SET NULL"
        )

    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_record_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_problem_contact_record_id"), ["contact_record_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_problem_contact_record_id_contact_record"),
            "contact_record",
            ["contact_record_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("branch_kind", sa.String(length=16), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_unit_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_unit_parent_id_unit"), "unit", ["parent_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_unit_parent_id_unit"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_unit_parent_id"))
        batch_op.drop_column("branch_kind")
        batch_op.drop_column("parent_id")

    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_problem_contact_record_id_contact_record"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_problem_contact_record_id"))
        batch_op.drop_column("contact_record_id")

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_person_branch_id_unit"), type_="foreignkey")
        batch_op.drop_column("branch_id")
        batch_op.drop_column("party_member")

    with op.batch_alter_table("contact_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_member_record_id"))
        batch_op.drop_index("ix_contact_member_person")
        batch_op.drop_index(batch_op.f("ix_contact_member_institution_id"))

    op.drop_table("contact_member")
    with op.batch_alter_table("contact_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_record_unit_id"))
        batch_op.drop_index(batch_op.f("ix_contact_record_institution_id"))
        batch_op.drop_index("ix_contact_record_inst_date")
        batch_op.drop_index(batch_op.f("ix_contact_record_author_id"))

    op.drop_table("contact_record")
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_point_year_person")
        batch_op.drop_index(batch_op.f("ix_contact_point_unit_id"))
        batch_op.drop_index(batch_op.f("ix_contact_point_student_class_id"))
        batch_op.drop_index(batch_op.f("ix_contact_point_person_id"))
        batch_op.drop_index(batch_op.f("ix_contact_point_institution_id"))

    op.drop_table("contact_point")
    with op.batch_alter_table("student_class", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_student_class_unit_id"))
        batch_op.drop_index(batch_op.f("ix_student_class_institution_id"))

    op.drop_table("student_class")
