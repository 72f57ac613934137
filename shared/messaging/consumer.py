"""The consumer loop: batched, inbox-deduplicated processing with offsets committed after the database."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shared.db.database import Database
from shared.db.erasure import still_erased
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import Event, EventDecodeError, decode
from shared.events.models import LeadCaptured, PersonErased
from shared.events.topics import topic_named
from shared.messaging.broker import Broker, ensure_topics
from shared.messaging.positions import StartCheck
from shared.messaging.subscription import Subscription
from shared.metrics import Metrics

log = structlog.get_logger(__name__)

_COMMIT_TIMEOUT_S = 10.0
# The record of how far each partition was applied (shared.messaging.positions) is written with the batch at most
# this often per partition: a record a second old only makes a restart re-read a second of events, which the inbox
# drops, and writing it with every batch cost a statement in every consumer transaction.
_POSITION_EVERY_S = 1.0


class ConsumerStuck(RuntimeError):
    """The broker stopped answering in a way the client will not recover from by itself; start over."""


Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass(frozen=True)
class ConsumerOptions:
    """How a consumer batches and how hard it tries before giving an event up to the dead letters."""

    batch_size: int = 500
    max_attempts: int = 3
    retry_backoff_s: float = 0.2


# How long the broker may hold a fetch while nothing is new (aiokafka's default is 500 ms). The embedded broker
# answers a held fetch late when data arrives (tens to a couple of hundred ms at 500), so while records flow the
# wait is short; after a quiet spell it is long, so an idle consumer asks the broker ten times less often
# (bench/idle.py). The first record after the quiet spell pays the longer wait once per hop.
_FETCH_WAIT_BUSY_MS = 50
_FETCH_WAIT_IDLE_MS = 500
_QUIET_AFTER_S = 10.0

# Tansu answers a group join after about half the session timeout (10 s, aiokafka's default: joins took 5.0 s;
# 6 s: 3.0 s, measured), and readiness waits for the join. A member that stops heartbeating (kill -9) gives its
# partitions up after the session timeout, so a shorter one also hands them over sooner. Heartbeats run on the
# event loop beside the batches; CPU-heavy work (model training, forecasts) runs in threads.
_SESSION_TIMEOUT_MS = 6_000
_HEARTBEAT_INTERVAL_MS = 1_000


class FetchWait:
    """Sets the broker's fetch wait from what the polls bring: short while records flow, long after a quiet spell.

    aiokafka reads the wait from its fetcher for every fetch request but offers no setter; without that
    attribute (another aiokafka) the wait stays short, as configured."""

    def __init__(self, consumer: AIOKafkaConsumer, clock: Callable[[], float] = time.monotonic) -> None:
        self._consumer = consumer
        self._clock = clock
        self._last_records = clock()
        self.idle = False

    def polled(self, records: bool) -> None:
        """After each poll: whether it brought records."""
        now = self._clock()
        if records:
            self._last_records = now
            if self.idle:
                self._set(_FETCH_WAIT_BUSY_MS, idle=False)
        elif not self.idle and now - self._last_records >= _QUIET_AFTER_S:
            self._set(_FETCH_WAIT_IDLE_MS, idle=True)

    def _set(self, wait_ms: int, *, idle: bool) -> None:
        self.idle = idle
        fetcher = getattr(self._consumer, "_fetcher", None)  # made by start()
        if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
            fetcher._fetch_max_wait_ms = wait_ms


class _JoinListener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no type hints
    """Notes the first assignment (possibly of no partitions, when members outnumber them) and checks where each
    assigned partition starts."""

    def __init__(self, on_assigned: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: object) -> None:
        """Nothing to hand over: offsets are committed after every batch."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """The group has taken this member in."""
        await self._on_assigned(assigned)


class ConsumerLoop:
    """One consumer group: decode, skip what the inbox knows, apply handlers, commit, then commit offsets."""

    def __init__(
        self,
        group: str,
        subscription: Subscription[Any],
        unit_of_work: UnitOfWorkFactory,
        broker: Broker,
        metrics: Metrics,
        options: ConsumerOptions,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        self.group = group
        self._beat = beat  # on every turn of every loop, waiting ones included (shared.heartbeats)
        self._subscription = subscription
        self._topics = subscription.topics
        self._uow = unit_of_work
        self._database: Database = unit_of_work.database
        self._broker = broker
        self._metrics = metrics
        self._options = options
        self._joined = False
        self._start_check = StartCheck(self._database, group, metrics)
        self._position_written: dict[tuple[str, int], float] = {}
        self._erases = subscription.handles_type(PersonErased)  # services that hold personal data keep erasures
        for topic in self._topics:  # exported at 0 from the start, so the first one shows in increase()
            metrics.offset_regressions.labels(group, topic.name)
            metrics.dead_letters.labels(group, topic.name)
        self._freshness = (
            metrics.decision_freshness.labels(subscription.decision) if subscription.decision is not None else None
        )

    @property
    def joined(self) -> bool:
        """Whether this process has joined its consumer group and been given its share of the partitions."""
        return self._joined

    async def _assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        self._joined = True
        if assigned:
            await self._start_check.assigned(consumer, assigned)

    async def run(self) -> None:
        """Consume until cancelled."""
        await self._broker.wait_ready(self._beat)
        # The sources too: after a broker loss (Tansu keeps nothing) they may not exist any more.
        names = [topic.name for topic in self._topics] + [topic.dead_letter(self.group) for topic in self._topics]
        await ensure_topics(self._broker.options, names)
        consumer = AIOKafkaConsumer(
            **self._broker.options.client(),
            group_id=self.group,
            client_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._options.batch_size,
            fetch_max_wait_ms=_FETCH_WAIT_BUSY_MS,
            session_timeout_ms=_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=_HEARTBEAT_INTERVAL_MS,
        )
        consumer.subscribe(
            [topic.name for topic in self._topics],
            listener=_JoinListener(lambda assigned: self._assigned(consumer, assigned)),
        )
        wait = FetchWait(consumer)
        try:
            await self._start(consumer)
            while True:
                self._beat()
                batches = await consumer.getmany(timeout_ms=500, max_records=self._options.batch_size)
                wait.polled(bool(batches))
                batches = await self._start_check.admit(consumer, batches)
                if not batches:
                    continue
                # One transaction for everything polled: records of one lead share a partition, so their order
                # holds, and a poll over many partitions costs one commit instead of one each.
                await self._process([r for records in batches.values() for r in records])
                await self._commit(consumer, {tp: records[-1].offset + 1 for tp, records in batches.items()})
        finally:
            await consumer.stop()

    async def _start(self, consumer: AIOKafkaConsumer) -> None:
        delay = 0.2
        while True:
            self._beat()
            try:
                await consumer.start()
                log.info("consumer.started", consumer=self.group, topics=[t.name for t in self._topics])
                return
            except (KafkaError, OSError) as exc:
                log.warning("consumer.start_failed", consumer=self.group, error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            # aiokafka retries some commit errors forever (a topic that vanished with the broker's memory);
            # past the timeout the loop starts over with a fresh consumer instead of hanging.
            await asyncio.wait_for(consumer.commit(offsets), timeout=_COMMIT_TIMEOUT_S)
        except TimeoutError as exc:
            raise ConsumerStuck(f"offset commit to {sorted(map(str, offsets))} did not complete in time") from exc
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # A rebalance took the partitions away: the new owner re-reads from the last committed
            # offset and the inbox drops what this process already applied.
            log.warning(
                "consumer.commit_failed", consumer=self.group, partitions=sorted(map(str, offsets)), error=str(exc)
            )
            return

    async def _process(self, records: list[Record]) -> None:
        started = time.perf_counter()
        items: list[tuple[Record, Event]] = []
        for record in records:
            try:
                event = decode(record.value)
            except EventDecodeError as exc:
                await self._dead_letter(record, exc, attempts=1)
                continue
            if self._subscription.handles(event):
                items.append((record, event))
        if items:
            await self._apply_batch(items)
        self._metrics.processing_latency.labels(self.group).observe(time.perf_counter() - started)

    async def _apply_batch(self, items: list[tuple[Record, Event]]) -> None:
        while True:
            try:
                await self._apply(items)
                return
            except Exception as exc:  # noqa: BLE001 - any handler error is isolated below
                if await self._wait_while_database_down(exc):
                    continue
                log.info("consumer.batch_failed_isolating", consumer=self.group, size=len(items), error=repr(exc))
                break
        for item in items:
            await self._apply_one(item)

    async def _apply_one(self, item: tuple[Record, Event]) -> None:
        record, event = item
        attempt = 0
        while True:
            self._beat()
            attempt += 1
            try:
                await self._apply([item])
                return
            except Exception as exc:  # noqa: BLE001 - poison events must not stop the consumer
                if await self._wait_while_database_down(exc):
                    attempt -= 1
                    continue
                self._metrics.events_failed.labels(self.group, event.envelope.type).inc()
                log.warning(
                    "consumer.event_failed",
                    consumer=self.group,
                    event_id=event.id,
                    lead_id=event.lead_id,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt >= self._options.max_attempts:
                    await self._dead_letter(record, exc, attempts=attempt)
                    return
                await asyncio.sleep(self._options.retry_backoff_s * 2 ** (attempt - 1))

    async def _apply(self, items: list[tuple[Record, Event]]) -> None:
        applied: list[Event] = []
        skipped: list[Event] = []
        due = time.monotonic() - _POSITION_EVERY_S
        recorded = {
            (r.topic, r.partition) for r, _ in items if self._position_written.get((r.topic, r.partition), 0.0) < due
        }
        async with self._uow() as uow:
            seen = await uow.already_processed(self.group, [event.id for _, event in items])
            for record, event in items:
                if (record.topic, record.partition) in recorded:
                    uow.mark_position(self.group, record.topic, record.partition, record.offset, event.id)
                if event.id in seen:
                    skipped.append(event)
                    continue
                seen.add(event.id)  # a repeat within the batch is a duplicate too
                applied.append(event)
            if self._erases and applied:
                # What still arrives about an erased person from before the erasure must not bring them back.
                ignored = await still_erased(uow.session, applied)
                if ignored:
                    for event in applied:
                        if event.id in ignored:
                            uow.mark_processed(self.group, event)
                            skipped.append(event)
                    applied = [event for event in applied if event.id not in ignored]
            await self._subscription.apply(uow, applied)
            for event in applied:
                uow.mark_processed(self.group, event)
            await uow.commit()
        written = time.monotonic()
        for partition in recorded:
            self._position_written[partition] = written
        self._observe_freshness(applied)
        for event in applied:
            self._metrics.events_consumed.labels(self.group, event.envelope.type).inc()
        for event in skipped:
            self._metrics.events_skipped.labels(self.group, event.envelope.type).inc()

    def _observe_freshness(self, applied: list[Event]) -> None:
        if self._freshness is None:
            return
        now = time.time()
        for event in applied:
            if type(event.payload) is LeadCaptured:
                self._freshness.observe(max(0.0, now - event.envelope.time.timestamp()))

    async def _wait_while_database_down(self, exc: Exception) -> bool:
        """True if the database is unreachable (then wait for it): an outage is not the event's fault."""
        if await self._database.reachable(timeout_s=5):
            return False
        log.warning("consumer.database_down", consumer=self.group, error=repr(exc))
        delay = 0.5
        while True:
            self._beat()
            await asyncio.sleep(delay)
            if await self._database.reachable(timeout_s=5):
                log.info("consumer.database_back", consumer=self.group)
                return True
            delay = min(delay * 2, 5.0)

    async def _dead_letter(self, record: Record, exc: Exception, *, attempts: int) -> None:
        topic = topic_named(record.topic)
        headers = [
            *(record.headers or ()),
            ("leadflow.error", repr(exc)[:2000].encode()),
            ("leadflow.error_type", type(exc).__name__.encode()),
            ("leadflow.consumer", self.group.encode()),
            ("leadflow.original_topic", record.topic.encode()),
            ("leadflow.original_partition", str(record.partition).encode()),
            ("leadflow.original_offset", str(record.offset).encode()),
            ("leadflow.attempts", str(attempts).encode()),
        ]
        while True:
            self._beat()
            try:
                await self._broker.producer.send_and_wait(
                    topic.dead_letter(self.group), key=record.key, value=record.value, headers=headers
                )
                break
            except (KafkaError, OSError) as send_error:
                log.warning("consumer.dead_letter_failed", consumer=self.group, error=str(send_error))
                await asyncio.sleep(1.0)
        self._metrics.dead_letters.labels(self.group, record.topic).inc()
        log.error(
            "consumer.dead_lettered",
            consumer=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
            error=repr(exc),
        )
