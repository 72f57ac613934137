"""The hand-off of each routed lead: pending until its owner accepts or rejects it, breached when the SLA (in
working hours, by segment) runs out first; the index serves the SLA sweep.

Revision ID: qualifier_0008
Revises: qualifier_0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "qualifier_0008"
down_revision: str | None = "qualifier_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("handoff_status", sa.String(10)))
        batch.add_column(sa.Column("handoff_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("handoff_due_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_leads_handoff_due", "leads", ["handoff_due_at"], postgresql_where=sa.text("handoff_status = 'pending'")
    )


def downgrade() -> None:
    op.drop_index("ix_leads_handoff_due", table_name="leads")
    with op.batch_alter_table("leads") as batch:
        for column in ("handoff_due_at", "handoff_at", "handoff_status"):
            batch.drop_column(column)
