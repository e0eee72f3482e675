"""report runs for a year, in the requester's language (the annual cadre file, issue 12 item 6)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 03:30:00

``report_run.period``: the year a run covers when it is not one semester's (``ay:2026-2027`` an academic
year, ``cy:2026`` a calendar year), part of the run's natural key; ``report_run.language``: the language of
the file's headers (``zh_CN`` or ``en``), the requester's when they asked.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_run") as batch:
        batch.add_column(sa.Column("period", sa.String(length=16), server_default="", nullable=False))
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("report_run") as batch:
        batch.drop_column("language")
        batch.drop_column("period")
