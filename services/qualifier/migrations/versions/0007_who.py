"""Who each lead is (name, phone, country), the campaign it came from and its predicted conversion, so the
lead list and its search name people and can be filtered the way sales asks.

Revision ID: qualifier_0007
Revises: qualifier_0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "qualifier_0007"
down_revision: str | None = "qualifier_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("name", sa.String(401)))
        batch.add_column(sa.Column("phone", sa.String(50)))
        batch.add_column(sa.Column("country", sa.String(100)))
        batch.add_column(sa.Column("campaign", sa.String(200)))
        batch.add_column(sa.Column("probability", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        for column in ("probability", "campaign", "country", "phone", "name"):
            batch.drop_column(column)
