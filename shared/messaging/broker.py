"""Connection to the Kafka-protocol broker: one producer per process and topic creation at start-up."""

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from shared.messaging.kafka_options import KafkaOptions

log = structlog.get_logger(__name__)

# Tansu (the embedded broker) has neither idempotent producers nor transactions, so neither is used:
# at-least-once transport plus the outbox and inbox give effectively-once processing on any broker.
# No linger: the relay hands a whole batch to the producer before it first awaits, so the batch is already one
# request; lingering would only delay its acknowledgement on every hop of every lead.
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
        self._topics: list[str] = []

    @property
    def producer(self) -> AIOKafkaProducer:
        """The started producer; only valid once `ready` is set. While one dropped in an outage waits to be
        renewed this raises a KafkaError, which every sender already takes for the broker being away."""
        if self._producer is None:
            if self.ready.is_set():
                raise KafkaConnectionError("the broker was away; the producer is being renewed")
            raise RuntimeError("broker not connected yet")
        return self._producer

    @property
    def abandoned(self) -> bool:
        """Whether the producer was dropped in an outage and `renew` must make a new one."""
        return self._producer is None and self.ready.is_set()

    async def wait_ready(self, beat: Callable[[], None]) -> None:
        """Wait until connected, beating meanwhile: waiting for a broker that is away is not being stuck."""
        while not self.ready.is_set():
            beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), timeout=1.0)

    async def abandon(self) -> None:
        """Drop the producer and whatever it still holds, as soon as the broker is found away.

        aiokafka keeps what it could not deliver and sends it the moment the broker answers again. After a broker
        that lost everything (a lost cluster, Tansu's memory) that is before anyone made the topics again: Kafka
        auto-creates them in its default shape, and Tansu takes records for a topic it does not have, whose later
        creation resets the partitions' offsets under them (consumers never see them). The outbox still holds
        every row the broker did not acknowledge and sends them again after `renew`.
        """
        producer, self._producer = self._producer, None
        if producer is not None:
            await _abort(producer)
            log.warning("broker.producer_dropped", hint="the outbox sends its rows again once the broker is back")

    async def renew(self, *, max_backoff_s: float = 5.0) -> None:
        """After `abandon`: make the topics again and start a new producer, retrying until the broker answers."""
        if self.abandoned:
            await self.connect(self._topics, max_backoff_s=max_backoff_s)

    async def connect(self, topics: Iterable[str], *, max_backoff_s: float = 5.0) -> None:
        """Create the topics and start the producer, retrying until the broker answers; raises
        TopicsMisconfigured (no retry will help) when existing topics are below the required replication."""
        names = sorted(set(topics))
        self._topics = names
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


async def _abort(producer: AIOKafkaProducer) -> None:
    """Stop a producer without sending what it holds. aiokafka's `stop` delivers everything first and has no way
    to drop it (Java's close(Duration.ZERO)), so this reaches into the sender and the accumulator (aiokafka 0.14)."""
    sender = getattr(producer, "_sender", None)
    accumulator = getattr(producer, "_message_accumulator", None)
    producer._closed = True  # its own stop() would deliver what this drops
    if sender is not None:
        # In-flight requests end after one attempt and put their batches back in the accumulator.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sender.close(), timeout=5)
    if accumulator is not None:
        accumulator.fail_all(KafkaConnectionError("dropped with the producer: the outbox sends the rows again"))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.client.close(), timeout=5)


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
