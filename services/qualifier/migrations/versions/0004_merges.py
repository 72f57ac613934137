"""Merged leads: a merged lead points at the lead it is now part of; what a merge filled in or moved is kept to undo it.

Revision ID: qualifier_0004
Revises: qualifier_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "qualifier_0004"
down_revision: str | None = "qualifier_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as table:
        table.add_column(sa.Column("merged_into", sa.String(36)))
    op.create_index("ix_leads_merged_into", "leads", ["merged_into"])
    op.create_table(
        "merges",
        sa.Column("merge_id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(36), nullable=False),
        sa.Column("survivor", sa.String(36), nullable=False),
        sa.Column("filled", sa.JSON, nullable=False),
        sa.Column("opportunities", sa.JSON, nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("merges")
    op.drop_index("ix_leads_merged_into", table_name="leads")
    with op.batch_alter_table("leads") as table:
        table.drop_column("merged_into")
