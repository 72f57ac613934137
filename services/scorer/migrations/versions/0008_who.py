"""Who each profile is (name, email) and the campaign it came from, so the worklist names people, not ids.

Not scored: the fit rules and the model read other columns. Erasure deletes the whole profile row.

Revision ID: scorer_0008
Revises: scorer_0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scorer_0008"
down_revision: str | None = "scorer_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("name", sa.String(401)))
        batch.add_column(sa.Column("email", sa.String(320)))
        batch.add_column(sa.Column("utm_campaign", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("utm_campaign")
        batch.drop_column("email")
        batch.drop_column("name")
