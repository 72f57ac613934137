"""Forecast's first schema: opportunity and lead-stage projections, outbox and inbox.

Revision ID: forecast_0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "forecast_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.String(36), nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("pipeline_stage", sa.String(50), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("forecast_category", sa.String(20), nullable=False),
        sa.Column("expected_close_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("source", sa.String(50)),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", name="pk_opportunities"),
    )
    op.create_index("ix_opportunities_close", "opportunities", ["expected_close_date"])
    op.create_table(
        "lead_stages",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("source", sa.String(50)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_lead_stages"),
    )


def downgrade() -> None:
    op.drop_table("lead_stages")
    op.drop_table("opportunities")
    drop_messaging_tables_v1()
