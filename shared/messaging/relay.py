"""The outbox relay: publishes committed outbox rows in order and marks them sent."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import structlog
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from sqlalchemy import Update, bindparam, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import Database, aware
from shared.db.locks import lock_connection, lock_key, try_lock
from shared.db.metadata import OUTBOX, OUTBOX_CHANNEL
from shared.messaging.broker import Broker
from shared.messaging.headers import event_headers
from shared.metrics import Metrics

log = structlog.get_logger(__name__)

_BACKLOG_REFRESH_S = 2.0


def relay_lock_key(schema: str | None) -> int:
    """The advisory lock of one service's relay. One relay per service publishes at a time, which keeps each
    lead's events in commit order when the service runs several replicas; services sharing a database (a schema
    each) lock apart. With one key for all, the relays of the four services took turns: at 1,200 leads/s a
    lead waited up to a second in intake's outbox (p99 1,062 ms) while the others published."""
    return lock_key("outbox_relay", schema)


# Refusals that no retry will change: the row is parked for an operator (`leadflow outbox list | retry`) and only
# the later rows of its key wait behind it. Everything else (a broker or partition unavailable, a timeout) is
# retried with backoff.
PERMANENT_REFUSALS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    CorruptRecordException,
)
_SEND_TIMEOUT_S = 30.0
_MAX_RETRY_DELAY_S = 10.0

_HELD = OUTBOX.alias("held")
# Built once (per dialect where it differs): the relay runs after every commit (see shared.db.batch_lookup). The oldest
# unpublished rows, except parked or waiting ones and the later rows of their keys (ix_outbox_held keeps the
# NOT EXISTS to an index probe: held rows are rare).
_UNSENT = (
    select(
        OUTBOX.c.id,
        OUTBOX.c.event_id,
        OUTBOX.c.topic,
        OUTBOX.c.key,
        OUTBOX.c.event_type,
        OUTBOX.c.payload,
        OUTBOX.c.correlation_id,
        OUTBOX.c.attempts,
    )
    .where(
        OUTBOX.c.published_at.is_(None),
        OUTBOX.c.parked_at.is_(None),
        or_(OUTBOX.c.retry_at.is_(None), OUTBOX.c.retry_at <= bindparam("now")),
        ~exists().where(
            _HELD.c.key == OUTBOX.c.key,
            _HELD.c.id < OUTBOX.c.id,
            _HELD.c.published_at.is_(None),
            or_(_HELD.c.parked_at.is_not(None), _HELD.c.retry_at > bindparam("now")),
        ),
    )
    .order_by(OUTBOX.c.id)
    .limit(bindparam("limit"))
)

_FAILED = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("b_id"))
    .values(
        attempts=OUTBOX.c.attempts + 1,
        last_error=bindparam("last_error"),
        retry_at=bindparam("retry_at"),
        parked_at=bindparam("parked_at"),
    )
)


@cache
def _mark_sent(dialect: str) -> Update:
    return (
        update(OUTBOX)
        .where(one_of(OUTBOX.c.id, "ids", dialect))
        .values(published_at=bindparam("now"), attempts=OUTBOX.c.attempts + 1, retry_at=None)
    )


@dataclass(frozen=True)
class Refusal:
    """One row the broker did not take, and what becomes of it."""

    row_id: int
    error: str
    permanent: bool


class OutboxRelay:
    """Moves outbox rows to Kafka; woken right after a commit (on PostgreSQL, any replica's), polling as a fallback."""

    def __init__(
        self,
        database: Database,
        broker: Broker,
        metrics: Metrics,
        *,
        batch_size: int,
        poll_interval_s: float,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        self._database = database
        self._beat = beat  # on every turn of the loop, waiting ones included (shared.heartbeats)
        self._broker = broker
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._backlog_checked_at = 0.0
        self._lock_key = relay_lock_key(database.schema)
        self.publishing = False  # this process's relay holds the lock: its own commits wake it in memory

    def wake(self, _events: object = None) -> None:
        """Called after a commit that wrote outbox rows."""
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled; broker or database outages only delay publication."""
        await self._broker.wait_ready(self._beat)
        delay = 0.2
        while True:
            self._beat()
            try:
                async with self._publisher(wait=True) as connection:
                    assert connection is not None
                    delay = 0.2
                    while True:
                        self._beat()
                        published, refused = await self._publish(connection)
                        if refused and not published:
                            await asyncio.sleep(delay)  # nothing got through: the broker is down, not a row
                            delay = min(delay * 2, 5.0)
                        elif published + refused < self._batch_size:
                            delay = 0.2
                            await self._wait_for_work()
            except (KafkaError, OSError, OperationalError, DBAPIError, TimeoutError) as exc:
                if isinstance(exc, KafkaError | OSError):
                    await self._broker.abandon()
                log.warning("outbox.publish_failed", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
        self._wake.clear()

    async def publish_batch(self) -> int:
        """Publish up to one batch of unsent rows now, unless another replica's relay is the publisher;
        returns how many were published."""
        async with self._publisher(wait=False) as connection:
            return 0 if connection is None else (await self._publish(connection))[0]

    @contextlib.asynccontextmanager
    async def _publisher(self, *, wait: bool) -> AsyncIterator[AsyncConnection | None]:
        """A connection of its own holding this service's relay lock, or None if another replica holds it
        (with `wait`, until this one gets it).

        Held for as long as the relay runs, the lock costs nothing per batch: taking it in a transaction on every
        batch cost a BEGIN, the lock and a COMMIT (0.53 against 0.24 ms of CPU per batch, measured). Each
        statement commits by itself: a batch's rows are only read, then marked once the broker has them. On
        PostgreSQL the holder listens on OUTBOX_CHANNEL, which the other replicas notify when they commit outbox
        rows, so their commits are published at once instead of at its next poll.
        """
        async with lock_connection(self._database) as connection:
            while not await try_lock(connection, self._lock_key):
                if not wait:
                    yield None
                    return
                self._beat()
                await asyncio.sleep(self._poll_interval_s)  # a standby: another replica publishes
            if wait and not self._database.is_sqlite:
                await self._listen(connection)
            self.publishing = wait
            try:
                yield connection
            finally:
                self.publishing = False

    async def _listen(self, connection: AsyncConnection) -> None:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        schema = self._database.schema or "public"

        def notified(*args: object) -> None:
            if args[-1] == schema:
                self._wake.set()

        await raw.add_listener(OUTBOX_CHANNEL, notified)

    async def _publish(self, connection: AsyncConnection) -> tuple[int, int]:
        """Send one batch; returns how many rows were published and how many refused."""
        # After an outage the broker may have come back empty (a lost cluster, Tansu's memory): a new producer
        # makes the topics, in the configured shape, before anything is sent to them (Broker.abandon says why).
        await self._broker.renew()
        producer = self._broker.producer
        now = datetime.now(UTC)
        rows = (await connection.execute(_UNSENT, {"limit": self._batch_size, "now": now})).all()
        sent: dict[int, asyncio.Future[object]] = {}
        refusals: list[Refusal] = []
        blocked: set[str] = set()  # keys with a row refused in this batch: their later rows wait for the next
        for row in rows:
            if row.key in blocked:
                continue
            try:
                sent[row.id] = await producer.send(
                    row.topic,
                    key=row.key.encode(),
                    value=row.payload.encode(),
                    headers=event_headers(row.event_id, row.event_type, row.correlation_id),
                )
            except PERMANENT_REFUSALS as exc:  # refused before it left: too large for the producer, say
                refusals.append(_refusal(row.id, exc))
                blocked.add(row.key)
            # Any other error here (no metadata, no connection) is the broker being away: it ends the batch and
            # the run loop backs off; rows already handed over are sent again later (consumers drop repeats).
        if sent:
            pending = await self._acknowledged(set(sent.values()))
            for row_id, future in sent.items():
                if future in pending:
                    refusals.append(Refusal(row_id, f"no acknowledgement within {_SEND_TIMEOUT_S:.0f} s", False))
                elif (error := future.exception()) is not None:
                    refusals.append(_refusal(row_id, error))
        refused = {r.row_id for r in refusals}
        published = [row for row in rows if row.id in sent and row.id not in refused]
        if published:
            # Stamped when the broker has them (as before this relay kept per-row state): published_at is when a
            # row left, and bench/pipeline.py reads each hop's latency from it.
            await connection.execute(
                _mark_sent(dialect_of(connection)), {"ids": [row.id for row in published], "now": datetime.now(UTC)}
            )
        if refusals:
            # When nothing got through the broker itself is away: the loop backs off, and the rows keep their
            # place instead of each waiting out a delay of its own after the broker is back.
            broker_away = not published and not any(r.permanent for r in refusals)
            await self._record_refusals(connection, refusals, {row.id: row for row in rows}, now, delay=not broker_away)
        await self._refresh_backlog(connection)
        for row in published:
            self._metrics.events_produced.labels(row.topic, row.event_type).inc()
        return len(published), len(refusals)

    async def _acknowledged(self, futures: set[asyncio.Future[object]]) -> set[asyncio.Future[object]]:
        """Wait for the broker's acknowledgements (up to _SEND_TIMEOUT_S); returns the ones still pending. Asks the
        broker every second meanwhile: found away, the producer is dropped at once with what it holds, before the
        broker can come back and take it ahead of its topics (Broker.abandon)."""
        deadline = time.monotonic() + _SEND_TIMEOUT_S
        pending = futures
        while pending:
            self._beat()
            _, pending = await asyncio.wait(pending, timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            if not pending or time.monotonic() >= deadline:
                break
            if not await self._broker.ping():
                await self._broker.abandon()  # fails every future it held
                await asyncio.wait(pending, timeout=1.0)
                break
        return {future for future in pending if not future.done()}

    async def _record_refusals(
        self, connection: AsyncConnection, refusals: list[Refusal], rows: dict[int, Any], now: datetime, *, delay: bool
    ) -> None:
        values = []
        for refusal in refusals:
            row = rows[refusal.row_id]
            wait = timedelta(seconds=min(_MAX_RETRY_DELAY_S, 0.5 * 2 ** int(row.attempts)))
            values.append(
                {
                    "b_id": refusal.row_id,
                    "last_error": refusal.error[:2000],
                    "retry_at": now + wait if delay and not refusal.permanent else None,
                    "parked_at": now if refusal.permanent else None,
                }
            )
            outcome = "parked" if refusal.permanent else "retried"
            self._metrics.outbox_refusals.labels(row.topic, outcome).inc()
            log_as = log.error if refusal.permanent else log.warning
            log_as(
                "outbox.row_parked" if refusal.permanent else "outbox.row_retried",
                outbox_id=refusal.row_id,
                event_id=row.event_id,
                topic=row.topic,
                attempts=int(row.attempts) + 1,
                error=refusal.error,
            )
        await connection.execute(_FAILED, values)
        self._backlog_checked_at = 0.0  # show a parked row at once

    async def _refresh_backlog(self, connection: AsyncConnection) -> None:
        now = time.monotonic()
        # Counting the backlog is a scan; under load once every couple of seconds is plenty for a gauge.
        if now - self._backlog_checked_at < _BACKLOG_REFRESH_S:
            return
        self._backlog_checked_at = now
        await backlog_gauges(connection, self._metrics)

    async def refresh_gauges(self) -> None:
        """Measure the outbox gauges from the table, whether or not anything can be sent: an outage is when the
        backlog grows. Every replica runs it (Runtime), so none exports a stale or zero value."""
        with contextlib.suppress(OperationalError, DBAPIError, OSError, TimeoutError):
            async with self._database.engine.connect() as connection:
                await backlog_gauges(connection, self._metrics)


def _refusal(row_id: int, error: BaseException) -> Refusal:
    return Refusal(row_id, f"{type(error).__name__}: {error}", isinstance(error, PERMANENT_REFUSALS))


async def backlog_gauges(connection: AsyncConnection, metrics: Metrics) -> None:
    """Set the outbox gauges: rows waiting, the oldest one's age, rows parked."""
    count, oldest, parked = (
        await connection.execute(
            select(
                func.count(),
                func.min(OUTBOX.c.created_at),
                func.count(OUTBOX.c.parked_at),
            ).where(OUTBOX.c.published_at.is_(None))
        )
    ).one()
    metrics.outbox_backlog.set(count - parked)
    metrics.outbox_parked.set(parked)
    age = 0.0
    if oldest is not None:
        age = max(0.0, (datetime.now(UTC) - aware(oldest)).total_seconds())
    metrics.outbox_oldest_age.set(age)


async def republish(database: Database, *, since: datetime | None = None, topic: str | None = None) -> int:
    """Mark outbox history for publishing again (`leadflow replay`); downstream inboxes drop repeats."""
    async with database.session() as session, session.begin():
        statement = update(OUTBOX).where(OUTBOX.c.published_at.is_not(None)).values(published_at=None)
        if since is not None:
            statement = statement.where(OUTBOX.c.created_at >= since)
        if topic is not None:
            statement = statement.where(OUTBOX.c.topic == topic)
        result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
