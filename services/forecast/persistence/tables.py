"""Forecast's own projections: each opportunity's latest snapshot and every revision, lead stages and segments."""

from sqlalchemy import Column, Date, DateTime, Float, Index, Integer, Numeric, String, Table

from shared.db.metadata import AutoIncrementId, new_metadata

metadata = new_metadata()

opportunities = Table(
    "opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("lead_id", String(36), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("pipeline_stage", String(50), nullable=False),
    Column("probability", Float, nullable=False),
    Column("forecast_category", String(20), nullable=False),
    Column("expected_close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("owner", String(200)),
    Column("source", String(50)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("close_reason", String(200)),
    Index("ix_opportunities_close", "expected_close_date"),
)

# Every revision of every opportunity: the pipeline as it stood at any moment ("as of" forecasts, backtests).
opportunity_revisions = Table(
    "opportunity_revisions",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("lead_id", String(36), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("pipeline_stage", String(50), nullable=False),
    Column("probability", Float, nullable=False),
    Column("forecast_category", String(20), nullable=False),
    Column("expected_close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("owner", String(200)),
    Column("source", String(50)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("closed_at", DateTime(timezone=True)),
    Column("close_reason", String(200)),
)

stage_changes = Table(
    "stage_changes",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("from_stage", String(20)),
    Column("to_stage", String(20), nullable=False),
    Column("source", String(50)),
    Column("owner", String(200)),
    Column("changed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("campaign", String(200)),  # forecast_0007: the funnel by campaign
)

# Every hand-off decision (lead.handoff_changed): accepted, rejected (why), breached, and how long it waited.
handoffs = Table(
    "handoffs",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("status", String(10), nullable=False),
    Column("reason", String(100)),
    Column("owner", String(200), nullable=False),
    Column("waited_s", Float),
    Column("decided_at", DateTime(timezone=True), nullable=False, index=True),
)

lead_segments = Table(
    "lead_segments",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("segment", String(10), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
)

lead_stages = Table(
    "lead_stages",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("stage", String(20), nullable=False),
    Column("source", String(50)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# Leads merged into another (lead.merged) while they are: the same person is counted once in the funnel.
merged_leads = Table(
    "merged_leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("merged_into", String(36), nullable=False),
    Column("merged_at", DateTime(timezone=True), nullable=False),
)
