"""Provider webhooks: email-less leads, deliveries without an immediate lead, enrichment queue, webinar joins.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0002"
down_revision: str | None = "intake_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.alter_column("email", existing_type=sa.String(320), nullable=True)
        batch.add_column(sa.Column("external_id", sa.String(200)))
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("event_id", existing_type=sa.String(36), nullable=True)
        batch.alter_column("lead_id", existing_type=sa.String(36), nullable=True)
    op.create_table(
        "pending_enrichments",
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "external_id", name="pk_pending_enrichments"),
    )
    op.create_table(
        "webinar_joins",
        sa.Column("webinar_id", sa.String(100), nullable=False),
        sa.Column("participant", sa.String(320), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("webinar_id", "participant", name="pk_webinar_joins"),
    )


def downgrade() -> None:
    op.drop_table("webinar_joins")
    op.drop_table("pending_enrichments")
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("lead_id", existing_type=sa.String(36), nullable=False)
        batch.alter_column("event_id", existing_type=sa.String(36), nullable=False)
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("external_id")
        batch.alter_column("email", existing_type=sa.String(320), nullable=False)
