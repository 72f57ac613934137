"""Consumer lag measured from the broker's offsets, not set by the consumer (#17)."""

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from services.embedded.broker import EmbeddedBroker, free_port
from shared.messaging.broker import ensure_topics
from shared.messaging.kafka_options import KafkaOptions, TopicShape
from shared.messaging.lag import LagProbe


def _gauge() -> tuple[CollectorRegistry, Gauge]:
    registry = CollectorRegistry()
    return registry, Gauge("leadflow_consumer_lag_events", "lag", ["consumer", "topic", "partition"], registry=registry)


def _exported(registry: CollectorRegistry) -> dict[str, float]:
    return {
        sample.labels["partition"]: sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "leadflow_consumer_lag_events"
    }


async def _produce(bootstrap: str, topic: str, partition: int, count: int) -> None:
    # One record a request: Tansu reports a partition's end as the base of its last batch plus one, so only
    # single-record batches give the true end there (a real Kafka broker reports it whatever the batching).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for _ in range(count):
            await producer.send_and_wait(topic, b"event", partition=partition)
    finally:
        await producer.stop()


async def test_lag_keeps_growing_while_the_consumer_is_stuck_and_covers_partitions_it_never_committed() -> None:
    with EmbeddedBroker(free_port()) as broker:
        options = KafkaOptions(broker.bootstrap_servers, topics=TopicShape(partitions=3))
        topic, group = f"t{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
        await ensure_topics(options, [topic])
        await _produce(broker.bootstrap_servers, topic, 0, 10)
        await _produce(broker.bootstrap_servers, topic, 1, 3)
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=broker.bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        await consumer.commit({TopicPartition(topic, 0): 4})  # the group applied 4 events of partition 0, then stuck
        await consumer.stop()

        registry, gauge = _gauge()
        probe = LagProbe(options, group, [topic], gauge)
        assert await probe.measure() == {
            TopicPartition(topic, 0): 6,
            TopicPartition(topic, 1): 3,  # never committed: the group starts at the earliest offset
            TopicPartition(topic, 2): 0,
        }
        assert _exported(registry) == {"0": 6, "1": 3, "2": 0}

        # Nothing commits any more: a gauge the consumer set would stay at 6; the broker's figure grows.
        await _produce(broker.bootstrap_servers, topic, 0, 5)
        await probe.measure()
        assert _exported(registry)["0"] == 11

    # The broker is gone: no figure is better than a stale one (or a 0 that reads as "caught up").
    assert await probe.measure() == {}
    assert _exported(registry) == {}
