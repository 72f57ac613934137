"""Read and replay dead-letter topics (`leadflow dlq`)."""

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events.topics import ALL_TOPICS
from shared.messaging.kafka_options import KafkaOptions

_IDLE_S = 1.0  # Tansu's end offsets are unreliable, so "the end" is: nothing new for this long


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message and why it was given up."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    @property
    def original_topic(self) -> str:
        """Where it came from."""
        return self.headers.get("leadflow.original_topic", b"").decode() or self.topic.split(".dlq.", 1)[0]

    @property
    def event_id(self) -> str:
        return self.headers.get("ce_id", b"").decode() or "?"

    @property
    def error(self) -> str:
        return self.headers.get("leadflow.error", b"").decode(errors="replace")


async def dead_letter_topics(kafka: KafkaOptions, group: str | None = None) -> list[str]:
    """Every `<topic>.dlq.<group>` topic the broker has (for one group, when given)."""
    admin = AIOKafkaAdminClient(**kafka.client())
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    wanted = {t.name for t in ALL_TOPICS}
    found = [n for n in names if ".dlq." in n and n.split(".dlq.", 1)[0] in wanted]
    return sorted(n for n in found if group is None or n.endswith(f".dlq.{group}"))


async def read(kafka: KafkaOptions, topics: list[str], limit: int = 1000) -> list[DeadLetter]:
    """Dead letters from the start of each topic, without joining a consumer group."""
    if not topics:
        return []
    consumer = AIOKafkaConsumer(**kafka.client(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(await _partitions(consumer, t))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while len(letters) < limit:
            batch = await consumer.getmany(timeout_ms=int(_IDLE_S * 1000), max_records=500)
            if not batch:
                break
            for records in batch.values():
                letters += [
                    DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers or ())) for r in records
                ]
    finally:
        await consumer.stop()
    return letters[:limit]


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(20):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    return {0}


async def replay(kafka: KafkaOptions, letters: list[DeadLetter]) -> int:
    """Publish dead letters to their original topics again; consumers that applied them already skip them."""
    producer = AIOKafkaProducer(**kafka.client(), acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for letter in letters:
            headers = [(k, v) for k, v in letter.headers.items() if not k.startswith("leadflow.")]
            headers.append(("leadflow.replayed_from", f"{letter.topic}/{letter.partition}/{letter.offset}".encode()))
            await producer.send_and_wait(letter.original_topic, key=letter.key, value=letter.value, headers=headers)
    finally:
        await producer.stop()
    return len(letters)
