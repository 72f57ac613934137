"""The outbox relay, the inbox and the dead letters on a real broker and PostgreSQL."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, insert, select

from services.intake.bootstrap import MIGRATIONS
from services.intake.persistence.tables import deliveries
from shared.db import migrations
from shared.db.database import Database
from shared.db.metadata import INBOX, OUTBOX
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import Event, new_event
from shared.events.models import Contact, LeadCaptured, Source
from shared.events.topics import LEADS_INTAKE
from shared.messaging.broker import Broker, ensure_topics
from shared.messaging.consumer import ConsumerLoop, ConsumerOptions, FetchWait
from shared.messaging.kafka_options import KafkaOptions
from shared.messaging.relay import OutboxRelay, relay_lock_key, republish
from shared.messaging.subscription import Consumes, On, Subscription
from shared.metrics import Metrics
from tests.support import eventually


class NoBatch:
    """Row-at-a-time handlers: nothing to read before the batch or write after it."""

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        pass

    async def save(self, uow: UnitOfWork) -> None:
        pass


class Recorder:
    """A handler whose effect is a row written in the consumer's transaction; fails on request."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.poison: set[str] = set()

    async def __call__(self, _: NoBatch, uow: UnitOfWork, event: Event[LeadCaptured]) -> None:
        if event.lead_id in self.poison:
            raise ValueError(f"cannot apply {event.lead_id}")
        await uow.session.execute(
            insert(deliveries).values(
                provider="test",
                delivery_id=event.id,
                event_id=event.id,
                lead_id=event.lead_id,
                received_at=datetime.now(UTC),
            )
        )

    def subscription(self) -> Subscription[NoBatch]:
        """This recorder as a service's only handler, of lead.captured."""
        return Subscription(Consumes[NoBatch]((On(LeadCaptured, self),)), NoBatch)

    async def applied(self) -> list[str]:
        async with self.database.session() as session:
            return list((await session.execute(select(deliveries.c.event_id))).scalars())


@pytest.fixture
async def plumbing(database_url: str, private_broker: str) -> AsyncIterator[tuple[Database, Broker, OutboxRelay]]:
    schema = f"msg_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url, schema)
    database = Database(database_url, schema)
    broker = Broker(private_broker, "test")
    await broker.connect([LEADS_INTAKE.name])
    relay = OutboxRelay(database, broker, Metrics("test"), batch_size=100, poll_interval_s=0.1)
    yield database, broker, relay
    await broker.close()
    await database.dispose()


def consumer_of(recorder: Recorder, broker: Broker, options: ConsumerOptions) -> tuple[str, Metrics, ConsumerLoop]:
    """A consumer loop in a fresh group, so it reads the topic from the start."""
    group = f"g{uuid.uuid4().hex[:8]}"
    metrics = Metrics("test")
    loop = ConsumerLoop(
        group,
        recorder.subscription(),
        UnitOfWorkFactory(recorder.database),
        broker,
        metrics,
        options,
    )
    return group, metrics, loop


def captured_event(lead: str | None = None) -> Event:
    lead_id = uuid.UUID(lead) if lead else uuid.uuid4()
    return new_event(
        LeadCaptured(
            lead_id=lead_id,
            contact=Contact(email=f"{lead_id.hex[:8]}@acme.com"),
            source=Source(provider="test"),
            captured_at=datetime.now(UTC),
        ),
        source="/test",
    )


async def emit(database: Database, events: list[Event]) -> None:
    async with UnitOfWork(database) as uow:
        for event in events:
            uow.emit(event)
        await uow.commit()


@contextlib.asynccontextmanager
async def consuming(loop: ConsumerLoop) -> AsyncIterator[None]:
    task = asyncio.create_task(loop.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_relay_publishes_in_order_and_marks_rows_sent(plumbing: tuple[Database, Broker, OutboxRelay]) -> None:
    database, broker, relay = plumbing
    events = [captured_event("00000000-0000-0000-0000-000000000001") for _ in range(5)]
    await emit(database, events)
    assert await relay.publish_batch() == 5
    assert await relay.publish_batch() == 0
    async with database.session() as session:
        unsent = await session.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None)))
    assert unsent == 0
    consumer = AIOKafkaConsumer(
        LEADS_INTAKE.name,
        bootstrap_servers=broker.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen: list[str] = []
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                seen += [dict(r.headers)["ce_id"].decode() for r in records]
            if len(seen) >= 5:
                break
    finally:
        await consumer.stop()
    # One key, one partition, commit order preserved.
    assert [e for e in seen if e in {ev.id for ev in events}] == [e.id for e in events]


async def test_a_relay_waits_for_its_own_services_other_replica_but_not_for_other_services(
    plumbing: tuple[Database, Broker, OutboxRelay],
) -> None:
    database, _, relay = plumbing
    await emit(database, [captured_event()])
    assert database.schema is not None
    for busy, published in ((database.schema, 0), (f"{database.schema}_other", 1)):
        # `busy`'s relay is mid-batch on the same database: a replica of this service's, then another service's.
        async with database.session() as session, session.begin():
            assert await session.scalar(select(func.pg_try_advisory_xact_lock(relay_lock_key(busy))))
            assert await relay.publish_batch() == published, busy
    assert await relay.publish_batch() == 0  # nothing left over


async def test_a_running_relay_holds_its_lock_between_batches_and_lets_go_when_it_stops(
    plumbing: tuple[Database, Broker, OutboxRelay],
) -> None:
    database, _, relay = plumbing
    key = relay_lock_key(database.schema)

    async def lock_free() -> bool:
        async with database.session() as session, session.begin():
            return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(key))))

    async def lock_held() -> bool:
        return not await lock_free()

    async def all_sent() -> bool:
        async with database.session() as session:
            unsent = OUTBOX.c.published_at.is_(None)
            return await session.scalar(select(func.count()).select_from(OUTBOX).where(unsent)) == 0

    running = asyncio.create_task(relay.run())
    try:
        await eventually(lock_held, timeout_s=30, what="the relay to take its lock")
        await emit(database, [captured_event() for _ in range(3)])
        relay.wake()
        await eventually(all_sent, timeout_s=30, what="the rows published")
        assert await lock_held()  # still the publisher, between batches
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    # Released with its connection: a pooled connection keeping it would leave the service without a publisher.
    assert await lock_free()


async def test_redelivered_events_are_applied_once_and_poison_goes_to_dead_letters(
    plumbing: tuple[Database, Broker, OutboxRelay],
) -> None:
    database, broker, relay = plumbing
    recorder = Recorder(database)
    group, metrics, loop = consumer_of(
        recorder, broker, ConsumerOptions(batch_size=50, max_attempts=3, retry_backoff_s=0.01)
    )
    good = [captured_event() for _ in range(20)]
    bad = captured_event()
    recorder.poison.add(bad.lead_id)
    await emit(database, [*good[:10], bad, *good[10:]])
    async with consuming(loop):
        await relay.publish_batch()
        await eventually(lambda: _all_applied(recorder, good), timeout_s=60, what="20 applied")
        # Publish everything again, as `leadflow replay` would after a broker loss.
        assert await republish(database) == 21  # 20 good and the poison one
        await relay.publish_batch()
        await eventually(lambda: _skipped_at_least(metrics, group, good[0], 20), timeout_s=60, what="skips")
    applied = await recorder.applied()
    # Earlier tests of this module left events on the topic too; ours are each applied exactly once.
    assert len(applied) == len(set(applied))
    assert {e.id for e in good} <= set(applied) and bad.id not in applied
    async with database.session() as session:
        inbox = await session.scalar(select(func.count()).select_from(INBOX).where(INBOX.c.consumer == group))
    assert inbox == len(applied)
    dead = AIOKafkaConsumer(
        LEADS_INTAKE.dead_letter(group),
        bootstrap_servers=broker.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await dead.start()
    try:
        letters = []
        for _ in range(50):
            batch = await dead.getmany(timeout_ms=200)
            letters += [r for records in batch.values() for r in records]
            if len(letters) >= 2:
                break
    finally:
        await dead.stop()
    # The poison event went to the dead letters once per delivery (it was published twice), with its error.
    assert len(letters) == 2
    headers = dict(letters[0].headers)
    assert headers["ce_id"].decode() == bad.id
    assert b"cannot apply" in headers["leadflow.error"]
    assert headers["leadflow.attempts"] == b"3"
    assert headers["leadflow.original_topic"] == LEADS_INTAKE.name.encode()


async def test_undecodable_message_is_dead_lettered_and_the_consumer_goes_on(
    plumbing: tuple[Database, Broker, OutboxRelay],
) -> None:
    database, broker, relay = plumbing
    recorder = Recorder(database)
    group, metrics, loop = consumer_of(recorder, broker, ConsumerOptions(batch_size=50))
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    good = captured_event()
    try:
        await producer.send_and_wait(LEADS_INTAKE.name, key=good.envelope.subject.encode(), value=b"{not json")
    finally:
        await producer.stop()
    await emit(database, [good])
    async with consuming(loop):
        await relay.publish_batch()
        await eventually(lambda: _applied(recorder, good.id), timeout_s=60, what="good event applied")
    assert _sample(metrics.dead_letters.labels(group, LEADS_INTAKE.name)) == 1


def _sample(metric: object) -> float:
    return float(metric._value.get())  # type: ignore[attr-defined]


async def _all_applied(recorder: Recorder, events: list[Event]) -> bool:
    return {e.id for e in events} <= set(await recorder.applied())


async def _applied(recorder: Recorder, event_id: str) -> bool:
    return event_id in await recorder.applied()


async def _skipped_at_least(metrics: Metrics, group: str, event: Event, count: int) -> bool:
    return _sample(metrics.events_skipped.labels(group, event.envelope.type)) >= count


async def test_dead_letters_are_listed_and_replayed_once_the_cause_is_fixed(
    plumbing: tuple[Database, Broker, OutboxRelay],
) -> None:
    from typer.testing import CliRunner

    from services.cli import app

    database, broker, relay = plumbing
    recorder = Recorder(database)
    group, metrics, loop = consumer_of(
        recorder, broker, ConsumerOptions(batch_size=50, max_attempts=2, retry_backoff_s=0.01)
    )
    poison = captured_event()
    recorder.poison.add(poison.lead_id)
    await emit(database, [poison])
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    async with consuming(loop):
        await relay.publish_batch()
        await eventually(lambda: _dead(metrics, group), timeout_s=60, what="the poison dead-lettered")
        listed = await asyncio.to_thread(CliRunner().invoke, app, ["dlq", "list", "--group", group], env=env)
        assert listed.exit_code == 0, listed.output
        assert f"event {poison.id}" in listed.output and "attempts 2" in listed.output
        assert "cannot apply" in listed.output  # earlier tests' garbage may be listed too: the topic is shared
        recorder.poison.clear()  # the bug is fixed
        replayed = await asyncio.to_thread(
            CliRunner().invoke, app, ["dlq", "replay", "--group", group, "--event-id", poison.id], env=env
        )
        assert replayed.exit_code == 0 and "1 dead letters published again" in replayed.output
        await eventually(lambda: _applied(recorder, poison.id), timeout_s=60, what="the replayed event applied")
    assert (await recorder.applied()).count(poison.id) == 1


async def _dead(metrics: Metrics, group: str) -> bool:
    return _sample(metrics.dead_letters.labels(group, LEADS_INTAKE.name)) >= 1


async def test_a_consumer_counts_as_joined_only_once_its_group_took_it_in(
    plumbing: tuple[Database, Broker, OutboxRelay],
) -> None:
    database, broker, _ = plumbing
    _, _, loop = consumer_of(Recorder(database), broker, ConsumerOptions())
    assert not loop.joined  # readiness waits on this: a lead posted now would sit until the join
    async with consuming(loop):
        await eventually(lambda: _joined(loop), timeout_s=60, what="group joined")


async def _joined(loop: ConsumerLoop) -> bool:
    return loop.joined


async def test_the_fetch_wait_is_set_on_the_real_consumer_and_records_still_arrive_while_idle(
    private_broker: str,
) -> None:
    """FetchWait sets aiokafka's fetcher (no public setter): on the installed aiokafka and a real broker, the
    wait becomes 500 ms after the quiet spell, a record sent then still arrives, and the wait drops back."""
    topic = f"fetchwait.{uuid.uuid4().hex[:8]}"
    await ensure_topics(KafkaOptions(bootstrap_servers=private_broker), [topic])
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=private_broker, group_id=topic, fetch_max_wait_ms=50, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=private_broker)
    now = [0.0]
    wait = FetchWait(consumer, lambda: now[0])
    await consumer.start()
    await producer.start()
    try:
        now[0] = 11.0
        wait.polled(bool(await consumer.getmany(timeout_ms=200)))
        assert consumer._fetcher._fetch_max_wait_ms == 500
        await producer.send_and_wait(topic, b"after a quiet spell")
        got: dict[Any, Any] = {}
        for _ in range(20):
            if got := await consumer.getmany(timeout_ms=500):
                break
        assert [r.value for records in got.values() for r in records] == [b"after a quiet spell"]
        wait.polled(True)
        assert consumer._fetcher._fetch_max_wait_ms == 50
    finally:
        await consumer.stop()
        await producer.stop()
