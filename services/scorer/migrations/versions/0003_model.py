"""The predictive model: what a profile knew at capture, its probability, owners, and model versions.

Revision ID: scorer_0003
Revises: scorer_0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.metadata import AutoIncrementId

revision: str = "scorer_0003"
down_revision: str | None = "scorer_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _profile_columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("industry", sa.String(200)),
        sa.Column("employees", sa.Integer),
        sa.Column("email_domain", sa.String(255)),
        sa.Column("source", sa.String(50)),
        sa.Column("utm_source", sa.String(200)),
        sa.Column("utm_medium", sa.String(200)),
        sa.Column("answers", sa.JSON),
        sa.Column("first_seen_at", sa.DateTime(timezone=True)),
        sa.Column("probability", sa.Float),
        sa.Column("model_version", sa.Integer),
    )


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        for column in _profile_columns():
            batch.add_column(column)
    op.create_index("ix_profiles_probability", "profiles", ["probability"])
    op.create_table(
        "owners",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_owners"),
    )
    op.create_index("ix_owners_owner", "owners", ["owner"])
    op.create_table(
        "models",
        sa.Column("version", AutoIncrementId, autoincrement=True, nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("algorithm", sa.String(200), nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("artifact", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_models"),
    )
    op.create_index("ix_models_status", "models", ["status"])


def downgrade() -> None:
    op.drop_table("models")
    op.drop_table("owners")
    op.drop_index("ix_profiles_probability", "profiles")
    with op.batch_alter_table("profiles") as batch:
        for column in reversed(_profile_columns()):
            batch.drop_column(column.name)
