"""A broker that lost events, yet kept (or was given back) the group's committed offset: nothing is skipped."""

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import select

from services.embedded.broker import EmbeddedBroker, free_port
from shared.db.database import Database
from shared.db.metadata import CONSUMER_POSITIONS
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.topics import LEADS_INTAKE
from shared.messaging.broker import Broker
from shared.messaging.consumer import ConsumerLoop, ConsumerOptions
from shared.messaging.relay import OutboxRelay
from shared.metrics import Metrics
from tests.pipeline.test_messaging import (  # noqa: F401 - the fixture is shared
    Recorder,
    _all_applied,
    captured_event,
    consuming,
    emit,
    plumbing,
)
from tests.support import eventually

OPTIONS = ConsumerOptions(batch_size=50, max_attempts=3, retry_backoff_s=0.01)


async def test_a_refilled_log_behind_the_committed_offset_is_read_again_not_skipped(
    plumbing: tuple[Database, Broker, OutboxRelay],  # noqa: F811
) -> None:
    database, broker, relay = plumbing
    recorder = Recorder(database)
    group = f"g{uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    before = [captured_event(key) for _ in range(5)]
    await emit(database, before)
    await relay.publish_batch()
    first = ConsumerLoop(
        group,
        recorder.subscription(),
        UnitOfWorkFactory(database),
        broker,
        Metrics("t"),
        OPTIONS,
    )
    async with consuming(first):
        await eventually(lambda: _all_applied(recorder, before), timeout_s=60, what="the first five applied")
    async with database.session() as session:
        position = (
            await session.execute(select(CONSUMER_POSITIONS).where(CONSUMER_POSITIONS.c.consumer == group))
        ).one()
    assert position.next_offset == 5 and position.event_id == before[-1].id

    # The broker is replaced: its storage is gone, and new events fill the partition past where the group was;
    # the group's committed offset survived (or was restored from a backup of __consumer_offsets).
    with EmbeddedBroker(free_port()) as replacement:
        fresh = Broker(replacement.bootstrap_servers, "test")
        await fresh.connect([LEADS_INTAKE.name])
        try:
            after = [captured_event(key) for _ in range(8)]
            await emit(database, after)
            assert (
                await OutboxRelay(database, fresh, Metrics("t"), batch_size=100, poll_interval_s=0.1).publish_batch()
                == 8
            )
            await _commit(replacement.bootstrap_servers, group, TopicPartition(position.topic, position.partition), 5)
            metrics = Metrics("t")
            second = ConsumerLoop(
                group,
                recorder.subscription(),
                UnitOfWorkFactory(database),
                fresh,
                metrics,
                OPTIONS,
            )
            async with consuming(second):
                await eventually(lambda: _all_applied(recorder, after), timeout_s=60, what="all eight new applied")
            regressions = metrics.offset_regressions.labels(group, LEADS_INTAKE.name)
            assert regressions._value.get() == 1
        finally:
            await fresh.close()


async def _commit(bootstrap: str, group: str, partition: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.commit({partition: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()
