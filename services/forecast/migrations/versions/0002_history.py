"""History for "as of" forecasts and the funnel: every opportunity revision, every stage change, lead segments.

Revision ID: forecast_0002
Revises: forecast_0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.metadata import AutoIncrementId

revision: str = "forecast_0002"
down_revision: str | None = "forecast_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("opportunities") as batch:
        batch.add_column(sa.Column("close_reason", sa.String(200)))
    op.create_table(
        "opportunity_revisions",
        sa.Column("opportunity_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
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
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("close_reason", sa.String(200)),
        sa.PrimaryKeyConstraint("opportunity_id", "revision", name="pk_opportunity_revisions"),
    )
    op.create_index("ix_opportunity_revisions_changed_at", "opportunity_revisions", ["changed_at"])
    op.create_table(
        "stage_changes",
        sa.Column("id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("from_stage", sa.String(20)),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.String(50)),
        sa.Column("owner", sa.String(200)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stage_changes"),
    )
    op.create_index("ix_stage_changes_lead_id", "stage_changes", ["lead_id"])
    op.create_index("ix_stage_changes_changed_at", "stage_changes", ["changed_at"])
    op.create_table(
        "lead_segments",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("segment", sa.String(10), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_lead_segments"),
    )


def downgrade() -> None:
    op.drop_table("lead_segments")
    op.drop_table("stage_changes")
    op.drop_table("opportunity_revisions")
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_column("close_reason")
