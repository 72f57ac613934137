"""Notifier's first schema: subscriptions with their queue state, deliveries and attempts, people; outbox, inbox,
job leases, consumer positions and erased leads.

Revision ID: notifier_0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import (
    create_erased_leads_v1,
    create_messaging_tables_v1,
    downgrade_messaging_tables_v2,
    drop_erased_leads_v1,
    drop_messaging_tables_v1,
    upgrade_messaging_tables_v2,
)

revision: str = "notifier_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    create_messaging_tables_v1()
    upgrade_messaging_tables_v2()
    create_erased_leads_v1()
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", sa.JSON, nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_subscriptions"),
    )
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", _ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("latency_ms", sa.Float),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.subscription_id"],
            name="fk_deliveries_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_id"),
    )
    op.create_index("ix_deliveries_lead_id", "deliveries", ["lead_id"])
    op.create_index("ix_deliveries_queue", "deliveries", ["subscription_id", "status", "delivery_id"])
    op.create_index("ix_deliveries_created", "deliveries", ["subscription_id", "created_at"])
    op.create_table(
        "attempts",
        sa.Column("attempt_id", _ID, autoincrement=True, nullable=False),
        sa.Column("delivery_id", _ID, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.delivery_id"], name="fk_attempts_delivery_id_deliveries", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_attempts_delivery", "attempts", ["delivery_id", "attempt_id"])
    op.create_table(
        "people",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(401)),
        sa.Column("email", sa.String(320)),
        sa.Column("job_title", sa.String(200)),
        sa.Column("company", sa.String(300)),
        sa.PrimaryKeyConstraint("lead_id", name="pk_people"),
    )


def downgrade() -> None:
    for table in ("people", "attempts", "deliveries", "subscriptions"):
        op.drop_table(table)
    drop_erased_leads_v1()
    downgrade_messaging_tables_v2()
    drop_messaging_tables_v1()
