"""Safe with several replicas: per-row outbox state, job leases, retention indexes (deliveries too).

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from shared.db.migration_ops import downgrade_messaging_tables_v2, upgrade_messaging_tables_v2

revision: str = "intake_0004"
down_revision: str | None = "intake_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_messaging_tables_v2()
    op.create_index("ix_deliveries_received_at", "deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_received_at", table_name="deliveries")
    downgrade_messaging_tables_v2()
