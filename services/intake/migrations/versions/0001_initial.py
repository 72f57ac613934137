"""Intake's first schema: leads, deliveries, outbox and inbox.

Revision ID: intake_0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "intake_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        sa.Column("phone", sa.String(50)),
        sa.Column("job_title", sa.String(200)),
        sa.Column("company", sa.String(300)),
        sa.Column("company_domain", sa.String(255)),
        sa.Column("company_size", sa.String(50)),
        sa.Column("industry", sa.String(200)),
        sa.Column("country", sa.String(100)),
        sa.Column("submissions", sa.Integer, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_leads"),
    )
    op.create_table(
        "deliveries",
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "delivery_id", name="pk_deliveries"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("leads")
    drop_messaging_tables_v1()
