"""Outcomes the predictive model learns from.

Revision ID: scorer_0002
Revises: scorer_0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scorer_0002"
down_revision: str | None = "scorer_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_outcomes"),
    )


def downgrade() -> None:
    op.drop_table("outcomes")
