"""Connection to the Kafka-protocol broker: one producer per process and topic creation at start-up."""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.messaging.kafka_options import KafkaOptions

log = structlog.get_logger(__name__)

# Tansu (the embedded broker) has neither idempotent producers nor transactions, so neither is used:
# at-least-once transport plus the outbox and inbox give effectively-once processing on any broker.
# No linger: the relay hands a whole batch to the producer before it first awaits, so the batch is already one
# request; lingering only delayed its acknowledgement (12 events acked in 2.6 ms with 2 ms linger, 0.42 without,
# on Tansu) on every hop of every lead.
_PRODUCER_OPTIONS = {"acks": "all", "enable_idempotence": False, "linger_ms": 0, "max_batch_size": 262_144}


class TopicsMisconfigured(RuntimeError):
    """Existing topics are below the replication this deployment requires; starting would risk losing events."""


class Broker:
    """Owns the producer; connects in the background so the HTTP API works while the broker is down."""

    def __init__(self, options: KafkaOptions | str, client_id: str) -> None:
        self.options = options if isinstance(options, KafkaOptions) else KafkaOptions(options)
        self.bootstrap_servers = self.options.bootstrap_servers
        self.client_id = client_id
        self.ready = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        """The started producer; only valid once `ready` is set."""
        if self._producer is None:
            raise RuntimeError("broker not connected yet")
        return self._producer

    async def connect(self, topics: Iterable[str], *, max_backoff_s: float = 5.0) -> None:
        """Create the topics and start the producer, retrying until the broker answers; raises
        TopicsMisconfigured (no retry will help) when existing topics are below the required replication."""
        names = sorted(set(topics))
        delay = 0.2
        while True:
            try:
                await ensure_topics(self.options, names)
                producer = AIOKafkaProducer(client_id=self.client_id, **self.options.client(), **_PRODUCER_OPTIONS)
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("broker.unreachable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff_s)
                continue
            self._producer = producer
            self.ready.set()
            log.info("broker.connected", bootstrap_servers=self.bootstrap_servers, topics=names)
            return

    async def ping(self) -> bool:
        """Whether the broker answers a metadata request now."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=2)
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        """Flush and stop the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self.ready.clear()


async def ensure_topics(options: KafkaOptions, names: Iterable[str]) -> None:
    """Create the topics that do not exist yet (dead-letter ones with their own retention), unless creation is
    off; check that existing ones have the replication the deployment requires."""
    shape = options.topics
    admin = AIOKafkaAdminClient(**options.client())
    await admin.start()
    try:
        wanted = sorted(set(names))
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                shape.partitions,
                shape.replication_factor,
                topic_configs=shape.configs(dead_letter=is_dead_letter(name)),
            )
            for name in wanted
            if name not in existing
        ]
        if missing and shape.create:
            # Another service may create one between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        elif missing:
            log.warning("broker.topics_missing", topics=[t.name for t in missing], hint="topic creation is off")
        if shape.require_replication:
            present = [name for name in wanted if name in existing]
            short = under_replicated(await admin.describe_topics(present), shape.replication_factor) if present else []
            if short:
                raise TopicsMisconfigured(
                    f"topics {', '.join(short)} have fewer than {shape.replication_factor} replicas "
                    "(LEADFLOW_KAFKA_REPLICATION_FACTOR); add replicas (kafka-reassign-partitions) or lower the setting"
                )
    finally:
        await admin.close()


def is_dead_letter(topic: str) -> bool:
    """Dead-letter topics are named `<topic>.dlq.<consumer-group>`."""
    return ".dlq." in topic


def under_replicated(described: list[dict[str, Any]], replication_factor: int) -> list[str]:
    """Topics with a partition that has fewer replicas than required."""
    return sorted(
        str(topic["topic"])
        for topic in described
        if any(len(partition.get("replicas") or ()) < replication_factor for partition in topic.get("partitions") or ())
    )
