"""Merged leads: while a lead is merged into another, it leaves the funnel's counts and cohorts.

Revision ID: forecast_0004
Revises: forecast_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "forecast_0004"
down_revision: str | None = "forecast_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merged_leads",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("merged_into", sa.String(36), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("merged_leads")
