"""Scorer's own tables: lead profiles with their current score, the activities behind it, outcomes and models."""

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, LargeBinary, String, Table, text

from shared.db.metadata import AutoIncrementId, new_metadata

metadata = new_metadata()

profiles = Table(
    "profiles",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("name", String(401)),  # who the lead is, for the worklist (scorer_0008); never scored
    Column("email", String(320)),
    Column("utm_campaign", String(200)),
    Column("grade", String(2)),  # the grade grid's cell, A1..D4 (scorer_0010)
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
    Column("industry", String(200)),
    Column("employees", Integer),
    Column("email_domain", String(255)),
    Column("source", String(50)),
    Column("utm_source", String(200)),
    Column("utm_medium", String(200)),
    Column("answers", JSON),
    Column("first_seen_at", DateTime(timezone=True)),
    Column("probability", Float),
    Column("model_version", Integer),
    # Set while the lead is merged into another (lead.merged): its score is frozen and it leaves the worklist;
    # its profile and activities count for the lead it points at.
    Column("merged_into", String(36), index=True),
    Index("ix_profiles_segment_score", "segment", "score"),
    Index("ix_profiles_probability", "probability"),
)
# The worklist is read in its own order from partial indexes (scorer_0007; SQLite sorts NULLs last when
# descending without being told, and takes no NULLS LAST in an index, so the migration says it for PostgreSQL).
_WORKLIST_ORDER = (profiles.c.probability.desc().nulls_last(), profiles.c.score.desc(), profiles.c.lead_id)
Index(
    "ix_profiles_worklist",
    *_WORKLIST_ORDER,
    postgresql_where=profiles.c.merged_into.is_(None),
    sqlite_where=profiles.c.merged_into.is_(None),
)
Index(
    "ix_profiles_worklist_segment",
    profiles.c.segment,
    *_WORKLIST_ORDER,
    postgresql_where=profiles.c.merged_into.is_(None),
    sqlite_where=profiles.c.merged_into.is_(None),
)

owners = Table(
    "owners",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("owner", String(200), index=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    # The hand-off to that owner (lead.handoff_changed), for the worklist's SLA clock (scorer_0009).
    Column("handoff_status", String(10)),
    Column("handoff_due_at", DateTime(timezone=True)),
)

# Every trained model, kept: `active` (at most one), `retired` (was active) or `rejected` (lost on validation).
models = Table(
    "models",
    metadata,
    Column("version", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("algorithm", String(200), nullable=False),
    Column("report", JSON, nullable=False),
    Column("artifact", LargeBinary, nullable=False),
    # Every read of the model in use expects one: two trainings finishing together must not both activate.
    Index(
        "uq_models_active",
        "status",
        unique=True,
        postgresql_where=text("status = 'active'"),
        sqlite_where=text("status = 'active'"),
    ),
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
