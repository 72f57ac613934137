"""Intake's own tables: what it knows of each lead and every delivery it accepted."""

from sqlalchemy import Column, DateTime, Integer, String, Table

from shared.db.metadata import new_metadata

metadata = new_metadata()

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("phone", String(50)),
    Column("job_title", String(200)),
    Column("company", String(300)),
    Column("company_domain", String(255)),
    Column("company_size", String(50)),
    Column("industry", String(200)),
    Column("country", String(100)),
    Column("submissions", Integer, nullable=False, default=0),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("provider", String(50), primary_key=True),
    Column("delivery_id", String(200), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("lead_id", String(36), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
