"""follow_up.overdue_told_for: the deadline whose overdue notice was sent (claimed once)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 03:30:00

lti_tool/outreach/followup.py ``FollowUpService.announce_overdue``: the worker's tick claims an overdue letter or
proposal by setting this column to its deadline in one conditional UPDATE, so two workers never both tell
(docs/decisions.md W-3, N-2); a new deadline (督办) makes the item claimable again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("follow_up") as batch:
        batch.add_column(sa.Column("overdue_told_for", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follow_up") as batch:
        batch.drop_column("overdue_told_for")
