"""The grade grid's cell of each profile (fit A-D × engagement 1-4), for the worklist's grade filter and order.

Profiles scored before have none until they are scored again (their next event, or the decay sweep).

Revision ID: scorer_0010
Revises: scorer_0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scorer_0010"
down_revision: str | None = "scorer_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("grade", sa.String(2)))


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("grade")
