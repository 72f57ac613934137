"""Notifier's own tables: subscriptions (each one endpoint with its queue state), the deliveries queued for
them with every attempt, and who each lead is (for messages people read)."""

from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from shared.db.metadata import AutoIncrementId, new_metadata

metadata = new_metadata()

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(36), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("filters", JSON, nullable=False),
    Column("format", String(10), nullable=False),  # standard | slack
    Column("secret", String(200), nullable=False),  # whsec_…: signs every delivery (Standard Webhooks)
    Column("description", String(500)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The endpoint's queue: failing since when, how many failures in a row, when to try next; disabled after a
    # day of failures (or a 410), until someone enables it again.
    Column("failing_since", DateTime(timezone=True)),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("disabled_reason", Text),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        String(36),
        ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False),  # pending | delivered
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("latency_ms", Float),
    Column("delivered_at", DateTime(timezone=True)),
    # An event redelivered by the broker queues nothing twice.
    UniqueConstraint("subscription_id", "event_id"),
    Index("ix_deliveries_queue", "subscription_id", "status", "delivery_id"),
    Index("ix_deliveries_created", "subscription_id", "created_at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("attempt_id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("delivery_id", AutoIncrementId, ForeignKey("deliveries.delivery_id", ondelete="CASCADE"), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer),  # the HTTP status, or null when no answer came
    Column("error", Text),
    Column("latency_ms", Float, nullable=False),
    Index("ix_attempts_delivery", "delivery_id", "attempt_id"),
)

people = Table(
    "people",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("name", String(401)),
    Column("email", String(320)),
    Column("job_title", String(200)),
    Column("company", String(300)),
)
