"""Identity: links from identity keys to leads (joins and merges), the merge ledger, whose id a lead's is.

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0006"
down_revision: str | None = "intake_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as leads:
        leads.add_column(sa.Column("external_provider", sa.String(50)))
        leads.add_column(sa.Column("merged_into", sa.String(36)))
    op.create_table(
        "identity_links",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("merge_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identity_links_lead_id", "identity_links", ["lead_id"])
    op.create_table(
        "merges",
        sa.Column("merge_id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(36), nullable=False),
        sa.Column("survivor", sa.String(36), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("merged_by", sa.String(200), nullable=False),
        sa.Column("relinked", sa.JSON, nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unmerged_at", sa.DateTime(timezone=True)),
        sa.Column("unmerged_by", sa.String(200)),
    )
    op.create_index("ix_merges_source", "merges", ["source"])


def downgrade() -> None:
    op.drop_index("ix_merges_source", table_name="merges")
    op.drop_table("merges")
    op.drop_index("ix_identity_links_lead_id", table_name="identity_links")
    op.drop_table("identity_links")
    with op.batch_alter_table("leads") as leads:
        leads.drop_column("merged_into")
        leads.drop_column("external_provider")
