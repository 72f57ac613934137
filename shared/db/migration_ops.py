"""Frozen migration steps for the messaging tables every service carries; call them from a revision."""

import sqlalchemy as sa
from alembic import op

from shared.db.metadata import AutoIncrementId


def create_messaging_tables_v1() -> None:
    """Create the outbox and inbox as they were at schema version 1."""
    op.create_table(
        "outbox",
        sa.Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )


def drop_messaging_tables_v1() -> None:
    """Undo create_messaging_tables_v1."""
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")


_HELD_V2 = "published_at IS NULL AND (parked_at IS NOT NULL OR retry_at IS NOT NULL)"


def upgrade_messaging_tables_v2() -> None:
    """Per-row outbox state (correlation id, last error, retry time, parked), job leases, consumer positions,
    retention indexes."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("correlation_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text, nullable=True))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_outbox_held",
        "outbox",
        ["key", "id"],
        postgresql_where=sa.text(_HELD_V2),
        sqlite_where=sa.text(_HELD_V2),
    )
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runner", sa.String(200), nullable=False),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name="pk_jobs"),
    )
    op.create_table(
        "consumer_positions",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "topic", "partition", name="pk_consumer_positions"),
    )


def downgrade_messaging_tables_v2() -> None:
    """Undo upgrade_messaging_tables_v2."""
    op.drop_table("consumer_positions")
    op.drop_table("jobs")
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.drop_index("ix_outbox_held", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parked_at")
        batch.drop_column("retry_at")
        batch.drop_column("last_error")
        batch.drop_column("correlation_id")


def create_erased_leads_v1() -> None:
    """The record of erased leads every service keeps (shared.db.erasure)."""
    op.create_table(
        "erased_leads",
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_erased_leads"),
    )


def drop_erased_leads_v1() -> None:
    """Undo create_erased_leads_v1."""
    op.drop_table("erased_leads")
