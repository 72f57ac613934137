"""Keyed lead ids: the installation secrets adopted, so the leads made before keep their ids.

Revision ID: intake_0010
Revises: intake_0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0010"
down_revision: str | None = "intake_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_keys",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_identity_keys"),
    )


def downgrade() -> None:
    op.drop_table("identity_keys")
