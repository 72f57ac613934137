"""Qualification: lead facts, evidence, owners and round-robin positions.

Revision ID: qualifier_0002
Revises: qualifier_0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.metadata import AutoIncrementId

revision: str = "qualifier_0002"
down_revision: str | None = "qualifier_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("team", sa.String(100)))
        batch.add_column(sa.Column("facts", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_leads_owner", ["owner"])
    op.create_table(
        "evidence",
        sa.Column("id", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.JSON),
        sa.Column("note", sa.Text),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
    )
    op.create_index("ix_evidence_lead_id", "evidence", ["lead_id"])
    op.create_table(
        "owners",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("owner", name="pk_owners"),
    )
    op.create_table(
        "routing_positions",
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("team", name="pk_routing_positions"),
    )


def downgrade() -> None:
    op.drop_table("routing_positions")
    op.drop_table("owners")
    op.drop_table("evidence")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_owner")
        batch.drop_column("last_activity_at")
        batch.drop_column("facts")
        batch.drop_column("team")
