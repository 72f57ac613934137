"""Consumer lag as the broker sees it: each partition's end offset minus what the group committed.

A gauge the consumer set after its own commits froze when the consumer was stuck (it commits nothing then) and
kept the series of partitions a rebalance had taken away. Asked of the broker on a schedule, the figure keeps
moving while the consumer does not, and covers every partition of the group whichever replica holds it. Every
replica measures the whole group, so dashboards and alerts take the `max` per partition, never the sum.
"""

from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from shared.messaging.kafka_options import KafkaOptions

log = structlog.get_logger(__name__)

_TIMEOUT_MS = 5_000


def lag(
    start: dict[TopicPartition, int], end: dict[TopicPartition, int], committed: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Events of each partition the group has yet to apply; a partition it never committed lags by all the log
    still holds (the group starts at the earliest offset).

    Never negative: a broker may report an end below the group's position (Tansu reports the last batch's base
    offset; a broker that lost its log starts again at 0), and the consumer sorts that out itself.
    """
    return {tp: max(0, offset - committed.get(tp, start.get(tp, 0))) for tp, offset in end.items()}


class LagProbe:
    """Measures one consumer group's lag over its topics and exports it, replacing the series of every run."""

    def __init__(self, options: KafkaOptions, group: str, topics: Sequence[str], gauge: Gauge) -> None:
        self._options = options
        self._group = group
        self._topics = tuple(topics)
        self._gauge = gauge
        self._exported: set[tuple[str, str, str]] = set()

    async def measure(self) -> dict[TopicPartition, int]:
        """Ask the broker; on failure drop the series (a figure that cannot be measured is not shown as 0)."""
        try:
            measured = await self._ask()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("consumer.lag_unmeasured", consumer=self._group, error=repr(exc))
            self._export({})
            return {}
        self._export(measured)
        return measured

    async def _ask(self) -> dict[TopicPartition, int]:
        # Fresh clients each run: a run every 15 s costs two connections, and nothing stale survives an outage.
        admin = AIOKafkaAdminClient(**self._options.client(), request_timeout_ms=_TIMEOUT_MS)
        reader = AIOKafkaConsumer(**self._options.client(), group_id=None, request_timeout_ms=_TIMEOUT_MS)
        await admin.start()
        try:
            await reader.start()
            try:
                partitions = [
                    TopicPartition(topic, number)
                    for topic in self._topics
                    for number in sorted(await _partitions(reader, topic))
                ]
                start = await reader.beginning_offsets(partitions) if partitions else {}
                end = await reader.end_offsets(partitions) if partitions else {}
            finally:
                await reader.stop()
            committed = await admin.list_consumer_group_offsets(self._group, partitions=partitions or None)
        finally:
            await admin.close()
        return lag(start, end, {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0})

    def _export(self, measured: dict[TopicPartition, int]) -> None:
        current = {(self._group, tp.topic, str(tp.partition)): value for tp, value in measured.items()}
        for gone in self._exported - current.keys():
            self._gauge.remove(*gone)
        for labels, value in current.items():
            self._gauge.labels(*labels).set(value)
        self._exported = set(current)


async def _partitions(reader: AIOKafkaConsumer, topic: str) -> set[int]:
    known = reader.partitions_for_topic(topic)
    if known is None:
        await reader.topics()  # fetches the cluster's metadata
        known = reader.partitions_for_topic(topic)
    return set(known or ())
