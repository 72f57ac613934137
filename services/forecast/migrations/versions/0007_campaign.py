"""The campaign of each stage change (lead.stage_changed carries it), for the funnel by campaign.

Revision ID: forecast_0007
Revises: forecast_0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "forecast_0007"
down_revision: str | None = "forecast_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stage_changes") as batch:
        batch.add_column(sa.Column("campaign", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("stage_changes") as batch:
        batch.drop_column("campaign")
