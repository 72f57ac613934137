"""Qualifier's first schema: leads, transitions, opportunities, outbox and inbox.

Revision ID: qualifier_0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.metadata import AutoIncrementId
from shared.db.migration_ops import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "qualifier_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("job_title", sa.String(200)),
        sa.Column("company", sa.String(300)),
        sa.Column("source", sa.String(50)),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("score", sa.Float),
        sa.Column("segment", sa.String(10)),
        sa.Column("mql", sa.Boolean, nullable=False),
        sa.Column("stage_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_leads"),
    )
    op.create_index("ix_leads_stage", "leads", ["stage"])
    op.create_table(
        "transitions",
        sa.Column("id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("from_stage", sa.String(20)),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("criteria", sa.JSON, nullable=False),
        sa.Column("rules_version", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
    )
    op.create_index("ix_transitions_lead_id", "transitions", ["lead_id"])
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.String(36), nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("pipeline_stage", sa.String(50), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("forecast_category", sa.String(20), nullable=False),
        sa.Column("expected_close_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("source", sa.String(50)),
        sa.Column("close_reason", sa.Text),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("opportunity_id", name="pk_opportunities"),
    )
    op.create_index("ix_opportunities_lead_id", "opportunities", ["lead_id"])


def downgrade() -> None:
    op.drop_table("opportunities")
    op.drop_table("transitions")
    op.drop_table("leads")
    drop_messaging_tables_v1()
