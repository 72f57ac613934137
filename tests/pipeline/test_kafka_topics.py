"""Topic creation and the replication check against a real broker (Tansu, one node: one replica per partition)."""

import uuid
from dataclasses import replace

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.broker import TopicsMisconfigured, ensure_topics
from shared.messaging.kafka_options import KafkaOptions, TopicShape


async def topics_of(options: KafkaOptions) -> set[str]:
    admin = AIOKafkaAdminClient(**options.client())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_topics_are_created_unless_told_not_to_and_under_replication_refuses_production(
    private_broker: str,
) -> None:
    name = f"t{uuid.uuid4().hex[:8]}"
    off = KafkaOptions(private_broker, topics=TopicShape(partitions=4, create=False))
    await ensure_topics(off, [name])
    assert name not in await topics_of(off)

    on = replace(off, topics=replace(off.topics, create=True, min_insync_replicas=1, retention_ms=86_400_000))
    await ensure_topics(on, [name, f"{name}.dlq.qualifier"])
    assert {name, f"{name}.dlq.qualifier"} <= await topics_of(on)

    production = replace(on, topics=replace(on.topics, replication_factor=3, require_replication=True))
    with pytest.raises(TopicsMisconfigured, match=f"{name}.*fewer than 3 replicas"):
        await ensure_topics(production, [name])
    await ensure_topics(replace(production, topics=replace(production.topics, replication_factor=1)), [name])
