"""Qualifier's own tables: leads and their stage, every transition with its reasons, opportunities."""

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Index, Integer, Numeric, String, Table, Text, text

from shared.db.metadata import AutoIncrementId, new_metadata

metadata = new_metadata()

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("email", String(320)),
    Column("job_title", String(200)),
    Column("company", String(300)),
    Column("source", String(50)),
    # Who the lead is and where it came from, for lists and search (qualifier_0007); erasure deletes the row.
    Column("name", String(401)),
    Column("phone", String(50)),
    Column("country", String(100)),
    Column("campaign", String(200)),
    Column("probability", Float),
    Column("stage", String(20), nullable=False),
    Column("owner", String(200)),
    Column("score", Float),
    Column("segment", String(10)),
    Column("mql", Boolean, nullable=False, default=False),
    Column("stage_changed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("team", String(100)),
    Column("facts", JSON, nullable=False, default=dict),
    Column("last_activity_at", DateTime(timezone=True)),
    # Set while the lead is merged into another (lead.merged): it leaves lists and sweeps, and news about it
    # is applied to the lead it points at.
    Column("merged_into", String(36), index=True),
    Column("handoff_status", String(10)),  # pending | accepted | rejected | breached (qualifier_0008)
    Column("handoff_at", DateTime(timezone=True)),
    Column("handoff_due_at", DateTime(timezone=True)),
    Index("ix_leads_stage", "stage"),
    Index("ix_leads_owner", "owner"),
    Index("ix_leads_handoff_due", "handoff_due_at", postgresql_where=text("handoff_status = 'pending'")),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("key", String(100), nullable=False),
    Column("value", JSON),
    Column("note", Text),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

owners = Table(
    "owners",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("team", String(100), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("removed_at", DateTime(timezone=True)),
)

routing_positions = Table(
    "routing_positions",
    metadata,
    Column("team", String(100), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
)

# Leads listed most recently changed first, by stage or all (qualifier_0006).
Index(
    "ix_leads_stage_recent",
    leads.c.stage,
    leads.c.stage_changed_at.desc(),
    leads.c.lead_id,
    postgresql_where=leads.c.merged_into.is_(None),
    sqlite_where=leads.c.merged_into.is_(None),
)
Index(
    "ix_leads_recent",
    leads.c.stage_changed_at.desc(),
    leads.c.lead_id,
    postgresql_where=leads.c.merged_into.is_(None),
    sqlite_where=leads.c.merged_into.is_(None),
)

transitions = Table(
    "transitions",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("from_stage", String(20)),
    Column("to_stage", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("rules_version", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("name", String(300), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("pipeline_stage", String(50), nullable=False),
    Column("probability", Float, nullable=False),
    Column("forecast_category", String(20), nullable=False),
    Column("expected_close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("owner", String(200)),
    Column("source", String(50)),
    Column("close_reason", Text),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    # One open opportunity per lead, whoever opens it (a rep, or the qualifier on pain, interest and fit).
    Index(
        "uq_opportunities_open_lead",
        "lead_id",
        unique=True,
        postgresql_where=text("status = 'open'"),
        sqlite_where=text("status = 'open'"),
    ),
)

# What each merge filled in on the lead that stayed and which opportunities it moved there, to give back on
# lead.unmerged.
merges = Table(
    "merges",
    metadata,
    Column("merge_id", String(36), primary_key=True),
    Column("source", String(36), nullable=False),
    Column("survivor", String(36), nullable=False),
    Column("filled", JSON, nullable=False),
    Column("opportunities", JSON, nullable=False),
    Column("merged_at", DateTime(timezone=True), nullable=False),
)
