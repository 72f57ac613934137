"""Safe with several replicas: per-row outbox state, job leases, and at most one active model.

Revision ID: scorer_0004
Revises: scorer_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import downgrade_messaging_tables_v2, upgrade_messaging_tables_v2

revision: str = "scorer_0004"
down_revision: str | None = "scorer_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_messaging_tables_v2()
    op.create_index(
        "uq_models_active",
        "models",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("uq_models_active", table_name="models")
    downgrade_messaging_tables_v2()
