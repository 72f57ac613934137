"""Merged leads: a merged lead keeps its profile and activities and points at the lead it is now part of.

Revision ID: scorer_0005
Revises: scorer_0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scorer_0005"
down_revision: str | None = "scorer_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("profiles") as table:
        table.add_column(sa.Column("merged_into", sa.String(36)))
    op.create_index("ix_profiles_merged_into", "profiles", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_profiles_merged_into", table_name="profiles")
    with op.batch_alter_table("profiles") as table:
        table.drop_column("merged_into")
