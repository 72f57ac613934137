"""A service's transaction: its domain rows, the events it emits (outbox) and the events it applied (inbox)
commit together or not at all (docs/architecture.md, "Delivery guarantees")."""

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import structlog
from sqlalchemy import Select, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import Database
from shared.db.metadata import CONSUMER_POSITIONS, INBOX, OUTBOX, OUTBOX_CHANNEL
from shared.db.upsert import upsert_many
from shared.events.envelope import Event, encode
from shared.events.topics import topic_for

# Built once (every transaction writes them; see shared.db.batch_lookup on what building per call costs).
_INSERT_OUTBOX = insert(OUTBOX)
_INSERT_INBOX = insert(INBOX)

# Called after a commit with the events it wrote to the outbox; never before, so it sees only the truth.
CommitListener = Callable[[list[Event]], None]

log = structlog.get_logger(__name__)


class BatchState(Protocol):
    """Rows one transaction loaded and changed, written by an explicit save (a consumer's batch, a command)."""

    def unsaved(self) -> bool:
        """Whether it holds changes no save has written yet."""


S = TypeVar("S", bound=BatchState)


class UnitOfWork:
    """Opens a session; rolls back unless `commit` is called; writes emitted events to the outbox."""

    def __init__(
        self,
        database: Database,
        listeners: Sequence[CommitListener] = (),
        wake_other_replicas: Callable[[], bool] | None = None,
    ) -> None:
        self._database = database
        self._listeners = listeners
        self._wake_other_replicas = wake_other_replicas
        self._pending: list[Event] = []
        self._processed: list[tuple[str, Event]] = []
        self._positions: dict[tuple[str, str, int], tuple[int, str]] = {}
        self._states: dict[str, BatchState] = {}
        self._session: AsyncSession | None = None
        self.committed_events: list[Event] = []

    @property
    def session(self) -> AsyncSession:
        """The session of this unit; only valid inside `async with`."""
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._database.session()
        await self._session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None

    def emit(self, event: Event) -> None:
        """Queue an event to be written to the outbox in this transaction."""
        self._pending.append(event)

    def discard(self, lead_ids: Collection[str], *, keep: Callable[[Event], bool]) -> None:
        """Drop the events queued for these leads in this transaction, but those `keep` says (an erasure)."""
        self._pending = [e for e in self._pending if e.lead_id not in lead_ids or keep(e)]

    def state(self, key: str, factory: Callable[[], S]) -> S:
        """This transaction's batch state under `key`, made on first use; its owner saves it before the commit."""
        if key not in self._states:
            self._states[key] = factory()
        found = self._states[key]
        return found  # type: ignore[return-value]  # one key, one factory type: the caller's

    def mark_processed(self, consumer: str, event: Event) -> None:
        """Record that `consumer` applied `event`, in this transaction."""
        self._processed.append((consumer, event))

    def mark_position(self, consumer: str, topic: str, partition: int, offset: int, event_id: str) -> None:
        """Record, in this transaction, that `consumer` applied `topic`/`partition` up to the record at `offset`,
        which carried `event_id` (shared.messaging.positions checks the broker against it)."""
        key = (consumer, topic, partition)
        if offset + 1 > self._positions.get(key, (0, ""))[0]:
            self._positions[key] = (offset + 1, event_id)

    async def already_processed(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of these event ids `consumer` has applied before."""
        if not event_ids:
            return set()
        statement = _processed_statement(dialect_of(self.session))
        rows = await self.session.execute(statement, {"consumer": consumer, "event_ids": list(event_ids)})
        return set(rows.scalars())

    async def commit(self) -> None:
        """Write outbox and inbox rows, commit, then tell the listener (the relay, metrics) what was emitted.

        Only commits: business work is done by then. A batch state with unsaved changes is a bug (its changes
        would be lost), so the commit refuses it.
        """
        unsaved = sorted(key for key, state in self._states.items() if state.unsaved())
        if unsaved:
            raise RuntimeError(f"commit with unsaved changes in {', '.join(unsaved)}: save them first")
        now = datetime.now(UTC)
        session = self.session
        if self._pending:
            await session.execute(
                _INSERT_OUTBOX,
                [
                    {
                        "event_id": event.id,
                        "topic": topic_for(type(event.payload)).name,
                        "key": event.lead_id,
                        "event_type": event.envelope.type,
                        "payload": encode(event).decode(),
                        "correlation_id": event.envelope.correlationid,
                        "created_at": now,
                    }
                    for event in self._pending
                ],
            )
        if self._processed:
            await session.execute(
                _INSERT_INBOX,
                [
                    {
                        "consumer": consumer,
                        "event_id": event.id,
                        "event_type": event.envelope.type,
                        "processed_at": now,
                    }
                    for consumer, event in self._processed
                ],
            )
        if self._positions:
            await upsert_many(
                session,
                CONSUMER_POSITIONS,
                ["consumer", "topic", "partition"],
                [
                    {"consumer": c, "topic": t, "partition": p, "next_offset": offset, "event_id": event_id}
                    for (c, t, p), (offset, event_id) in self._positions.items()
                ],
            )
        if self._pending and self._wake_other_replicas is not None and self._wake_other_replicas():
            await self._notify(session)
        await session.commit()
        self.committed_events = self._pending
        self._pending, self._processed, self._positions = [], [], {}
        if not self.committed_events:
            return
        for listener in self._listeners:
            try:
                listener(self.committed_events)
            except Exception:
                # The transaction is committed: raising now would tell the caller it failed (an API would answer
                # 500 for an accepted lead, a consumer would apply its batch again), and the other listeners (the
                # relay's wake-up) would not hear. The relay's poll still publishes what was committed.
                log.exception(
                    "unit_of_work.listener_failed",
                    listener=getattr(listener, "__qualname__", "?"),
                    events=len(self.committed_events),
                )

    async def _notify(self, session: AsyncSession) -> None:
        # Only when another replica's relay publishes: a NOTIFY takes a cluster-wide lock across the commit, so
        # notifying on every commit makes all services' commits wait for one another; this process's own relay
        # is woken in memory.
        if dialect_of(session) == "postgresql":
            await session.execute(_NOTIFY, {"channel": OUTBOX_CHANNEL, "schema": self._database.schema or "public"})


_NOTIFY = text("SELECT pg_notify(:channel, :schema)")


@cache
def _processed_statement(dialect: str) -> Select[Any]:
    return select(INBOX.c.event_id).where(
        INBOX.c.consumer == bindparam("consumer"), one_of(INBOX.c.event_id, "event_ids", dialect)
    )


class UnitOfWorkFactory:
    """Makes units of work bound to one database and relay."""

    def __init__(
        self,
        database: Database,
        listeners: Sequence[CommitListener] = (),
        wake_other_replicas: Callable[[], bool] | None = None,
    ) -> None:
        self.database = database
        self.listeners = listeners
        self.wake_other_replicas = wake_other_replicas

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.database, self.listeners, self.wake_other_replicas)
