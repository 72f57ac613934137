"""Where the hand-off to each lead's owner stands (lead.handoff_changed), for the worklist's SLA clock.

Revision ID: scorer_0009
Revises: scorer_0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scorer_0009"
down_revision: str | None = "scorer_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("owners") as batch:
        batch.add_column(sa.Column("handoff_status", sa.String(10)))
        batch.add_column(sa.Column("handoff_due_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("handoff_due_at")
        batch.drop_column("handoff_status")
