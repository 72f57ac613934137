"""Forecast's own projections: the latest snapshot of each opportunity and each lead's stage."""

from sqlalchemy import Column, Date, DateTime, Float, Index, Integer, Numeric, String, Table

from shared.db.metadata import new_metadata

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
    Index("ix_opportunities_close", "expected_close_date"),
)

lead_stages = Table(
    "lead_stages",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("stage", String(20), nullable=False),
    Column("source", String(50)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
