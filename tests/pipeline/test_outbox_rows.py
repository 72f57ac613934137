"""Per-row outbox state, relays woken across replicas, job leases and retention, on a real broker and PostgreSQL."""

import asyncio
import contextlib
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy import func, insert, select, text

from services.embedded.broker import EmbeddedBroker, free_port
from services.intake.bootstrap import MIGRATIONS
from services.intake.persistence.tables import deliveries
from shared.db import jobs, migrations
from shared.db.database import Database
from shared.db.locks import lock_connection, lock_key
from shared.db.metadata import INBOX, OUTBOX
from shared.db.retention import Retention, messaging_retention, prune
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event, new_event
from shared.events.models import Contact, LeadCaptured, Source
from shared.events.topics import LEADS_INTAKE
from shared.messaging.broker import Broker
from shared.messaging.kafka_options import KafkaOptions, TopicShape
from shared.messaging.outbox_admin import held_rows, retry_parked
from shared.messaging.relay import OutboxRelay
from shared.metrics import Metrics
from tests.pipeline.test_messaging import captured_event, emit, plumbing  # noqa: F401 - the fixture is shared
from tests.support import eventually

Plumbing = tuple[Database, Broker, OutboxRelay]


async def oversized_row(database: Database, key: str) -> int:
    """A row over the broker's message size limit (1 MiB), as a runaway payload would make one."""
    async with database.session() as session, session.begin():
        result = await session.execute(
            insert(OUTBOX)
            .values(
                event_id=str(uuid.uuid4()),
                topic=LEADS_INTAKE.name,
                key=key,
                event_type="io.leadflow.lead.captured.v1",
                payload="x" * 1_200_000,
                created_at=datetime.now(UTC),
            )
            .returning(OUTBOX.c.id)
        )
        return int(result.scalar_one())


async def published(database: Database, event_ids: list[str]) -> set[str]:
    async with database.session() as session:
        rows = await session.execute(
            select(OUTBOX.c.event_id).where(OUTBOX.c.event_id.in_(event_ids), OUTBOX.c.published_at.is_not(None))
        )
        return set(rows.scalars())


async def test_a_row_the_broker_refuses_for_good_is_parked_and_holds_back_only_its_own_key(
    plumbing: Plumbing,  # noqa: F811
) -> None:
    database, _, relay = plumbing
    stuck_key, other_key = str(uuid.uuid4()), str(uuid.uuid4())
    before = captured_event(stuck_key)
    await emit(database, [before])
    parked_id = await oversized_row(database, stuck_key)
    after_same_key, other = captured_event(stuck_key), captured_event(other_key)
    await emit(database, [after_same_key, other])

    assert await relay.publish_batch() == 2  # `before` and `other`: the refused row stops neither
    assert await relay.publish_batch() == 0  # `after_same_key` waits behind the parked row of its key
    assert await published(database, [before.id, after_same_key.id, other.id]) == {before.id, other.id}
    rows = await held_rows(database, limit=10)
    assert [(r.id, r.attempts, r.state) for r in rows] == [(parked_id, 1, "parked")]
    assert "MessageSizeTooLarge" in (rows[0].last_error or "")
    assert relay._metrics.outbox_parked._value.get() == 1  # shown at once, not at the next refresh

    # An operator releases it (say, after raising the broker's limit); here it is refused again, and counted.
    assert await retry_parked(database, [parked_id]) == 1
    assert await relay.publish_batch() == 0
    again = await held_rows(database, limit=10)
    assert [(r.id, r.attempts, r.state) for r in again] == [(parked_id, 2, "parked")]


async def test_the_correlation_id_reaches_the_kafka_headers(plumbing: Plumbing) -> None:  # noqa: F811
    database, broker, relay = plumbing
    event = new_event(
        LeadCaptured(
            lead_id=uuid.uuid4(),
            contact=Contact(email="corr@acme.com"),
            source=Source(provider="test"),
            captured_at=datetime.now(UTC),
        ),
        source="/test",
        correlation_id="req-7f3a",
    )
    await emit(database, [event])
    assert await relay.publish_batch() == 1
    headers = await _headers_of(broker, event)
    assert headers["correlation_id"] == b"req-7f3a" and headers["ce_id"] == event.id.encode()


async def _headers_of(broker: Broker, event: Event) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer(
        LEADS_INTAKE.name, bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        for _ in range(100):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    headers = {k: bytes(v) for k, v in record.headers}
                    if headers.get("ce_id") == event.id.encode():
                        return headers
    finally:
        await consumer.stop()
    raise AssertionError(f"{event.id} never arrived")


async def test_a_commit_on_another_replica_wakes_the_publishing_relay_at_once(plumbing: Plumbing) -> None:  # noqa: F811
    database, broker, _ = plumbing
    # The publisher polls only every 30 s: what it publishes sooner, a notification woke it for.
    relay = OutboxRelay(database, broker, Metrics("test"), batch_size=100, poll_interval_s=30)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(1.0)  # it has taken its lock and is listening
        other_replica = Database(database.url, database.schema)  # its commits do not call this relay's wake()
        try:
            event = captured_event()
            # That replica's relay stands by (another holds the lock), so its commits notify the publisher.
            async with UnitOfWork(other_replica, wake_other_replicas=lambda: True) as uow:
                uow.emit(event)
                await uow.commit()
            started = asyncio.get_running_loop().time()
            await eventually(lambda: published(database, [event.id]), timeout_s=10, what="the row published")
            assert asyncio.get_running_loop().time() - started < 5
        finally:
            await other_replica.dispose()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_the_lock_connection_is_set_to_drop_a_silent_holder_within_a_minute(plumbing: Plumbing) -> None:  # noqa: F811
    database, _, _ = plumbing
    async with lock_connection(database) as connection:
        shown = {
            name: await connection.scalar(text(f"SHOW {name}"))
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "statement_timeout")
        }
    assert shown["statement_timeout"] == "30s"
    idle, interval, count = (int(shown[f"tcp_keepalives_{n}"]) for n in ("idle", "interval", "count"))
    assert idle + interval * count <= 60


async def test_a_periodic_job_runs_once_per_interval_whichever_replica_asks(plumbing: Plumbing) -> None:  # noqa: F811
    database, _, _ = plumbing
    async with jobs.leased(database, "sweep", interval_s=0.5) as first:
        assert first
        async with jobs.leased(database, "sweep", interval_s=0.5) as second:  # while the first still runs
            assert not second
    async with jobs.leased(database, "sweep", interval_s=0.5) as soon_after:  # same interval, run already done
        assert not soon_after
    # Another process holding the job's lock (a replica mid-run) keeps this one out.
    other = Database(database.url, database.schema)
    try:
        await asyncio.sleep(0.5)
        async with other.engine.connect() as held:
            key = lock_key("job:sweep", database.schema)
            assert await held.scalar(select(func.pg_try_advisory_lock(key)))
            async with jobs.leased(database, "sweep", interval_s=0.5) as while_held:
                assert not while_held
            await held.scalar(select(func.pg_advisory_unlock(key)))
        async with jobs.leased(database, "sweep", interval_s=0.5) as next_interval:
            assert next_interval
    finally:
        await other.dispose()
    async with database.session() as session:
        runs = await session.scalar(text("SELECT runs FROM jobs WHERE name = 'sweep'"))
    assert runs == 2


async def test_retention_prunes_only_what_served_its_purpose(plumbing: Plumbing) -> None:  # noqa: F811
    database, _, relay = plumbing
    old = datetime.now(UTC) - timedelta(days=40)
    await emit(database, [captured_event() for _ in range(3)])
    await relay.publish_batch()
    await emit(database, [captured_event() for _ in range(2)])  # not published: must stay, however old
    async with database.session() as session, session.begin():
        await session.execute(OUTBOX.update().values(created_at=old))
        await session.execute(OUTBOX.update().where(OUTBOX.c.published_at.is_not(None)).values(published_at=old))
        await session.execute(
            insert(INBOX),
            [
                {"consumer": "c", "event_id": str(uuid.uuid4()), "event_type": "t", "processed_at": when}
                for when in (old, old, datetime.now(UTC))
            ],
        )
        await session.execute(
            insert(deliveries),
            [
                {"provider": "p", "delivery_id": str(i), "received_at": when}
                for i, when in enumerate((old, datetime.now(UTC)))
            ],
        )
    rules = [*messaging_retention(7, 14), Retention(deliveries, deliveries.c.received_at, 30)]
    assert await prune(database, rules, batch=2) == {"outbox": 3, "inbox": 2, "deliveries": 1}
    async with database.session() as session:
        left = await session.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None)))
    assert left == 2


async def test_after_the_broker_comes_back_empty_the_relay_makes_its_topics_before_sending(
    database_url: str,
) -> None:
    """Sent to a topic the broker no longer has, events are auto-created into the broker's default shape (Kafka)
    or written where the topic's later creation resets the offsets under them (Tansu: consumers never see them).
    The relay makes the topic in the configured shape first, and every event sent after the loss can be read."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("losing the broker needs the embedded one")
    schema = f"loss_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url, schema)
    database = Database(database_url, schema)
    embedded = EmbeddedBroker(free_port())
    embedded.start()
    options = KafkaOptions(embedded.bootstrap_servers, topics=TopicShape(partitions=5))
    broker = Broker(options, "test")
    try:
        await broker.connect([LEADS_INTAKE.name])
        relay = OutboxRelay(database, broker, Metrics("test"), batch_size=100, poll_interval_s=0.1)
        await emit(database, [captured_event() for _ in range(3)])
        assert await relay.publish_batch() == 3
        embedded.stop()  # every topic gone
        after = [captured_event() for _ in range(40)]
        await emit(database, after)
        with contextlib.suppress(KafkaError, OSError, TimeoutError):
            await relay.publish_batch()  # the broker is away: nothing is marked sent
        embedded.start()  # the same address, empty

        async def sent() -> bool:
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await relay.publish_batch()
            return len(await published(database, [e.id for e in after])) == len(after)

        await eventually(sent, timeout_s=60, what="the events sent after the loss")
        admin = AIOKafkaAdminClient(**options.client())
        await admin.start()
        try:
            described = await admin.describe_topics([LEADS_INTAKE.name])
        finally:
            await admin.close()
        assert len(described[0]["partitions"]) == 5
        assert await readable(options, LEADS_INTAKE.name) >= {e.id for e in after}
    finally:
        await broker.close()
        embedded.stop()
        await database.dispose()


async def readable(options: KafkaOptions, topic: str) -> set[str]:
    """The event ids a consumer reading the topic from its start gets."""
    consumer = AIOKafkaConsumer(topic, **options.client(), auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    ids: set[str] = set()
    try:
        while batches := await consumer.getmany(timeout_ms=1500):
            for records in batches.values():
                ids |= {dict(r.headers)["ce_id"].decode() for r in records}
    finally:
        await consumer.stop()
    return ids


async def test_outbox_gauges_move_while_the_broker_is_away(database_url: str) -> None:
    """The backlog grows in an outage: the gauges come from the table on their own schedule, not from sending."""
    schema = f"gauge_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url, schema)
    database = Database(database_url, schema)
    metrics = Metrics("test")
    relay = OutboxRelay(database, Broker("127.0.0.1:1", "test"), metrics, batch_size=100, poll_interval_s=0.1)
    try:
        await emit(database, [captured_event() for _ in range(3)])
        async with database.session() as session, session.begin():
            await session.execute(OUTBOX.update().values(created_at=datetime.now(UTC) - timedelta(minutes=7)))
        await relay.refresh_gauges()  # no broker was ever reached
        assert metrics.registry.get_sample_value("leadflow_outbox_backlog_events") == 3
        assert (metrics.registry.get_sample_value("leadflow_outbox_oldest_age_seconds") or 0) >= 420
    finally:
        await database.dispose()
