"""Scorer's own tables: lead profiles with their current score, and the activities behind it."""

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, String, Table

from shared.db.metadata import AutoIncrementId, new_metadata

metadata = new_metadata()

profiles = Table(
    "profiles",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("job_title", String(200)),
    Column("company", String(300)),
    Column("free_mail", Boolean),
    Column("phone", String(50)),
    Column("country", String(100)),
    Column("fit", Float, nullable=False, default=0),
    Column("engagement", Float, nullable=False, default=0),
    Column("score", Float, nullable=False, default=0),
    Column("segment", String(10), nullable=False),
    Column("mql", Boolean, nullable=False, default=False),
    Column("factors", JSON, nullable=False),
    Column("activity_count", Integer, nullable=False, default=0),
    Column("rules_version", String(100), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Index("ix_profiles_segment_score", "segment", "score"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("source", String(50), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

activities = Table(
    "activities",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("activity_type", String(50), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("minutes", Float),
)
