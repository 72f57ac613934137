"""Metadata with a naming convention, and the outbox and inbox tables every service carries."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Unpublished rows that hold back the later rows of their key: parked, or waiting for a retry.
_HELD = "published_at IS NULL AND (parked_at IS NOT NULL OR retry_at IS NOT NULL)"

# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for a long-lived log.
AutoIncrementId = BigInteger().with_variant(Integer(), "sqlite")


def new_metadata() -> MetaData:
    """A service's own metadata, with the outbox, inbox and job leases already declared on it."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    outbox_table(metadata)
    inbox_table(metadata)
    jobs_table(metadata)
    consumer_positions_table(metadata)
    erased_leads_table(metadata)
    return metadata


def outbox_table(metadata: MetaData) -> Table:
    """Events waiting to be (or already) published, written in the business transaction."""
    return Table(
        "outbox",
        metadata,
        Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        # Per-row publishing state (docs/architecture.md, "Outbox"): a row the broker refused is retried after
        # `retry_at`, or parked when the refusal is permanent; either holds back only later rows of its key.
        Column("correlation_id", String(100), nullable=True),
        Column("last_error", Text, nullable=True),
        Column("retry_at", DateTime(timezone=True), nullable=True),
        Column("parked_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        Index(
            "ix_outbox_held",
            "key",
            "id",
            postgresql_where=text(_HELD),
            sqlite_where=text(_HELD),
        ),
        Index("ix_outbox_created_at", "created_at"),
    )


def jobs_table(metadata: MetaData) -> Table:
    """When each periodic job last started and finished, so one replica runs it once per interval."""
    return Table(
        "jobs",
        metadata,
        Column("name", String(100), primary_key=True),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        Column("runner", String(200), nullable=False),
        Column("runs", Integer, nullable=False, server_default="0"),
    )


def consumer_positions_table(metadata: MetaData) -> Table:
    """Per partition, the offset after the last record a consumer group applied, written with what it caused: the
    service's own record to check the broker's committed offsets and log ends against (a broker that lost events)."""
    return Table(
        "consumer_positions",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("topic", String(200), primary_key=True),
        Column("partition", Integer, primary_key=True, autoincrement=False),
        Column("next_offset", BigInteger, nullable=False),
        Column("event_id", String(36), nullable=False),
    )


def erased_leads_table(metadata: MetaData) -> Table:
    """Leads whose person was erased, and when: what still arrives about them from before is ignored."""
    return Table(
        "erased_leads",
        metadata,
        Column("lead_id", String(36), primary_key=True),
        Column("erased_at", DateTime(timezone=True), nullable=False),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Ids of events a consumer group already applied, written with the state they caused."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        Index("ix_inbox_processed_at", "processed_at"),
    )


# The channel a replica NOTIFYs (payload: its schema) when it commits outbox rows while another replica's relay
# publishes (shared.db.unit_of_work, shared.messaging.relay).
OUTBOX_CHANNEL = "leadflow_outbox"

# Detached copies for DML: table names are unqualified, so they serve any service's schema.
OUTBOX = outbox_table(MetaData())
INBOX = inbox_table(MetaData())
JOBS = jobs_table(MetaData())
CONSUMER_POSITIONS = consumer_positions_table(MetaData())
ERASED_LEADS = erased_leads_table(MetaData())
