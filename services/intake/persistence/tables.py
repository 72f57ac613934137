"""Intake's own tables: what it knows of each lead and every delivery it accepted."""

from sqlalchemy import JSON, Column, DateTime, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from shared.db.metadata import AutoIncrementId, new_metadata

metadata = new_metadata()

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("email", String(320)),
    Column("external_id", String(200)),
    Column("external_provider", String(50)),  # whose id external_id is: with it, the lead's identity key
    Column("merged_into", String(36)),  # set while this lead is merged into another (see merges)
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
    Column("event_id", String(36)),
    Column("lead_id", String(36)),
    Column("request_hash", String(64)),  # a direct capture's request: its Idempotency-Key is bound to it
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_deliveries_received_at", "received_at"),  # retention deletes the oldest first
)

pending_enrichments = Table(
    "pending_enrichments",
    metadata,
    Column("provider", String(50), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("context", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

imports = Table(
    "imports",
    metadata,
    Column("import_id", String(36), primary_key=True),
    Column("source", String(50), nullable=False),
    Column("filename", String(300)),
    Column("status", String(20), nullable=False),
    Column("total", Integer, nullable=False),
    Column("processed", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("errors", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    # What a replica needs to go on with an import another one started (imports/runner.py): the mapping, and
    # when its runner last showed progress.
    Column("mapping", Text),
    Column("heartbeat_at", DateTime(timezone=True)),
)

# An import's rows not imported yet, in chunks, stored as the upload is read: deleted in the transaction that
# imports them, so a restart goes on with the next one.
import_chunks = Table(
    "import_chunks",
    metadata,
    Column("import_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("first_row", Integer, nullable=False),
    Column("rows", JSON, nullable=False),
)

webinar_joins = Table(
    "webinar_joins",
    metadata,
    Column("webinar_id", String(100), primary_key=True),
    Column("participant", String(320), primary_key=True),
    Column("joined_at", DateTime(timezone=True), nullable=False),
)

# Authentic deliveries that could not become a lead yet, kept to be fixed and replayed (commands/quarantine.py).
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("provider", String(50), nullable=False),
    Column("delivery_key", String(200), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("reason", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("query", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
    Column("lead_id", String(36)),
    UniqueConstraint("provider", "delivery_key", name="uq_quarantine_provider"),
    Index("ix_quarantine_status", "status", "id"),
)

# Identity keys (an email's match key, a source's own id) that point at a lead other than the one they derive:
# the address of a person first known by a source's id, or every key of a merged lead (domain/identity.py).
identity_links = Table(
    "identity_links",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("merge_id", String(36)),  # the merge that made the link; unmerging removes it
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every merge, with what it changed so that unmerging can give it back.
merges = Table(
    "merges",
    metadata,
    Column("merge_id", String(36), primary_key=True),
    Column("source", String(36), nullable=False, index=True),
    Column("survivor", String(36), nullable=False),
    Column("reason", Text, nullable=False),
    Column("merged_by", String(200), nullable=False),
    Column("relinked", JSON, nullable=False),  # keys that pointed at source before: key -> earlier lead
    Column("merged_at", DateTime(timezone=True), nullable=False),
    Column("unmerged_at", DateTime(timezone=True)),
    Column("unmerged_by", String(200)),
)

# The installation secrets lead ids have been derived under (by fingerprint), each adopted once: every lead made
# before was linked to its id (services/intake/commands/lead_ids.py).
identity_keys = Table(
    "identity_keys",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("adopted_at", DateTime(timezone=True), nullable=False),
)
