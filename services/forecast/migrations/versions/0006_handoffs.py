"""Hand-off decisions (lead.handoff_changed), for the funnel's time to accept and rejections by reason.

Revision ID: forecast_0006
Revises: forecast_0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "forecast_0006"
down_revision: str | None = "forecast_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(100)),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("waited_s", sa.Float),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
    )
    op.create_index("ix_handoffs_lead_id", "handoffs", ["lead_id"])
    op.create_index("ix_handoffs_decided_at", "handoffs", ["decided_at"])


def downgrade() -> None:
    op.drop_table("handoffs")
