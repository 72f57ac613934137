"""Safe with several replicas: per-row outbox state, job leases, and at most one open opportunity per lead.

Revision ID: qualifier_0003
Revises: qualifier_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import downgrade_messaging_tables_v2, upgrade_messaging_tables_v2

revision: str = "qualifier_0003"
down_revision: str | None = "qualifier_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_messaging_tables_v2()
    op.create_index(
        "uq_opportunities_open_lead",
        "opportunities",
        ["lead_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("uq_opportunities_open_lead", table_name="opportunities")
    downgrade_messaging_tables_v2()
