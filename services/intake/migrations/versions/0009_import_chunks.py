"""Imports that survive a restart: the rows waiting in chunks, the mapping and a heartbeat on the import.

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0009"
down_revision: str | None = "intake_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as imports:
        imports.add_column(sa.Column("mapping", sa.Text))
        imports.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    op.create_table(
        "import_chunks",
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("first_row", sa.Integer, nullable=False),
        sa.Column("rows", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("import_id", "seq", name="pk_import_chunks"),
    )


def downgrade() -> None:
    op.drop_table("import_chunks")
    with op.batch_alter_table("imports") as imports:
        imports.drop_column("heartbeat_at")
        imports.drop_column("mapping")
