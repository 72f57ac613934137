"""Where a consumer starts on a partition it is given: checked against the service's own record of what it applied.

The record (`consumer_positions`, written in the transaction that applied the records) says how far the group got
and which event it applied last. A broker that lost events the group had read (storage replaced, an unclean
leader election) gives the partition a shorter log, and its new events get offsets the group already passed: a
consumer resuming at its committed offset would skip them without a word. So a partition whose log now ends
before the record, or whose record at the recorded offset is another event, is read again from its beginning
(the inbox drops what was applied), and the regression is logged and counted for an alert; what the broker lost
must come back from the producers' outboxes (`leadflow replay`). A broker that forgot only the committed offsets
resumes at the record instead of re-reading the whole topic.
"""

from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import select, tuple_

from shared.db.database import Database
from shared.db.metadata import CONSUMER_POSITIONS
from shared.metrics import Metrics

log = structlog.get_logger(__name__)

Batches = dict[TopicPartition, list["ConsumerRecord[bytes, bytes]"]]


class StartCheck:
    """Seeks newly assigned partitions by the record, then checks the first record read on each."""

    def __init__(self, database: Database, group: str, metrics: Metrics) -> None:
        self._database = database
        self._group = group
        self._metrics = metrics
        self._expected: dict[TopicPartition, tuple[int, str]] = {}

    async def assigned(self, consumer: AIOKafkaConsumer, partitions: set[TopicPartition]) -> None:
        """Seek each partition to the last applied record (to be checked), or its start after a regression."""
        self._expected = {tp: v for tp, v in self._expected.items() if tp in partitions}
        recorded = await self._recorded(partitions)
        if not recorded:
            return
        ends = await consumer.end_offsets(list(recorded))
        for tp, (next_offset, event_id) in recorded.items():
            end = ends.get(tp)
            if end is not None and end < next_offset:
                await self._regressed(consumer, tp, f"the log ends at {end}, before offset {next_offset}")
            elif next_offset > 0:
                consumer.seek(tp, next_offset - 1)
                self._expected[tp] = (next_offset - 1, event_id)

    async def admit(self, consumer: AIOKafkaConsumer, batches: Batches) -> Batches:
        """The batches to process: the checked record itself (applied already) is left out; a partition whose
        record is another event is sought back to its beginning and left out of this poll."""
        for tp in [tp for tp in batches if tp in self._expected]:
            offset, event_id = self._expected.pop(tp)
            records = batches[tp]
            first = records[0]
            if first.offset != offset:
                continue  # the log starts later (retention removed the record): nothing to compare
            found = _event_id(first)
            if found == event_id:
                batches[tp] = records[1:]
            else:
                del batches[tp]
                await self._regressed(consumer, tp, f"offset {offset} holds event {found}, not {event_id}")
        return {tp: records for tp, records in batches.items() if records}

    async def _regressed(self, consumer: AIOKafkaConsumer, tp: TopicPartition, why: str) -> None:
        self._metrics.offset_regressions.labels(self._group, tp.topic).inc()
        log.error(
            "consumer.offset_regression",
            consumer=self._group,
            topic=tp.topic,
            partition=tp.partition,
            why=why,
            hint="the broker lost events; read again from the start (the inbox drops repeats); "
            "run `leadflow replay` for the services that publish this topic",
        )
        await consumer.seek_to_beginning(tp)

    async def _recorded(self, partitions: set[TopicPartition]) -> dict[TopicPartition, tuple[int, str]]:
        c = CONSUMER_POSITIONS.c
        query = select(c.topic, c.partition, c.next_offset, c.event_id).where(
            c.consumer == self._group, tuple_(c.topic, c.partition).in_([(tp.topic, tp.partition) for tp in partitions])
        )
        async with self._database.session() as session:
            rows = (await session.execute(query)).all()
        return {TopicPartition(r.topic, r.partition): (int(r.next_offset), r.event_id) for r in rows}


def _event_id(record: "ConsumerRecord[bytes, bytes]") -> str | None:
    headers: dict[str, Any] = dict(record.headers or ())
    found = headers.get("ce_id")
    return bytes(found).decode() if found is not None else None
