"""Scorer's first schema: profiles, activities, outbox and inbox.

Revision ID: scorer_0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.metadata import AutoIncrementId
from shared.db.migration_ops import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "scorer_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "profiles",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("job_title", sa.String(200)),
        sa.Column("company", sa.String(300)),
        sa.Column("free_mail", sa.Boolean),
        sa.Column("phone", sa.String(50)),
        sa.Column("country", sa.String(100)),
        sa.Column("fit", sa.Float, nullable=False),
        sa.Column("engagement", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("segment", sa.String(10), nullable=False),
        sa.Column("mql", sa.Boolean, nullable=False),
        sa.Column("factors", sa.JSON, nullable=False),
        sa.Column("activity_count", sa.Integer, nullable=False),
        sa.Column("rules_version", sa.String(100), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_profiles"),
    )
    op.create_index("ix_profiles_segment_score", "profiles", ["segment", "score"])
    op.create_table(
        "activities",
        sa.Column("id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("activity_type", sa.String(50), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
        sa.UniqueConstraint("event_id", name="uq_activities_event_id"),
    )
    op.create_index("ix_activities_lead_id", "activities", ["lead_id"])


def downgrade() -> None:
    op.drop_table("activities")
    op.drop_table("profiles")
    drop_messaging_tables_v1()
