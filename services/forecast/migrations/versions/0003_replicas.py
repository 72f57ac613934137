"""Safe with several replicas: per-row outbox state, job leases, retention indexes.

Revision ID: forecast_0003
Revises: forecast_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from shared.db.migration_ops import downgrade_messaging_tables_v2, upgrade_messaging_tables_v2

revision: str = "forecast_0003"
down_revision: str | None = "forecast_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_messaging_tables_v2()


def downgrade() -> None:
    downgrade_messaging_tables_v2()
