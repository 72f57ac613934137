"""The handler contract of every consumer: load a batch's rows once, apply each event, save and emit once.

A consumer group applies the events of one poll in one transaction. Each service declares, once, in its
`handlers.py`, what it consumes: a `Consumes` table of typed handlers, one per event type. The topics it
subscribes to, the AsyncAPI document and the README's diagram are all derived from that table
(docs/architecture.md, "Contracts").

Per transaction the service makes a batch (its `BatchSteps`): `load` reads (and locks) every row the batch will
change in one query; the handlers apply the domain to those rows, one event at a time, in order, each given the
batch; `save` writes what changed and emits what it says, before the unit of work commits.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog

from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import EventPayload
from shared.events.topics import Topic, topic_for

P = TypeVar("P", bound=EventPayload)


class BatchSteps(Protocol):
    """What a consumer does once per batch, around its per-event handlers."""

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Read (and lock, in one order for every batch) every row these events will change."""

    async def save(self, uow: UnitOfWork) -> None:
        """Write what the handlers changed and emit what follows from it."""


B = TypeVar("B", bound=BatchSteps)


@dataclass(frozen=True)
class On(Generic[B, P]):
    """One row of a handler table: events with payload `payload` are applied by `handler`, which is given the
    transaction's batch, the unit of work and the event typed by its payload."""

    payload: type[P]
    handler: Callable[[B, UnitOfWork, Event[P]], Awaitable[None]]


@dataclass(frozen=True)
class Consumes(Generic[B]):
    """What one service consumes: its handlers by event type, and what applying a lead's capture decides.

    `decision` names that decision (the scorer's first score, the qualifier's first stage): the consumer measures
    its freshness, the time from capture to that commit, for the SLO."""

    handlers: Sequence[On[B, Any]]
    decision: str | None = None

    def __post_init__(self) -> None:
        payloads = [on.payload for on in self.handlers]
        if len(set(payloads)) != len(payloads):
            raise ValueError("one handler per event type: " + ", ".join(p.__name__ for p in payloads))

    @property
    def payloads(self) -> tuple[type[EventPayload], ...]:
        """The event types this service applies, in the table's order."""
        return tuple(on.payload for on in self.handlers)

    @property
    def topics(self) -> tuple[Topic, ...]:
        """The topics those event types travel on, each once, in the order the table first names them."""
        return tuple(dict.fromkeys(topic_for(payload) for payload in self.payloads))


class Subscription(Generic[B]):
    """A service's handler table bound to how it makes each transaction's batch."""

    def __init__(self, consumes: Consumes[B], new_batch: Callable[[], B]) -> None:
        self.consumes = consumes
        self._new_batch = new_batch
        self._handlers = {on.payload: on.handler for on in consumes.handlers}

    @property
    def topics(self) -> tuple[Topic, ...]:
        """The topics to subscribe to."""
        return self.consumes.topics

    @property
    def decision(self) -> str | None:
        """What applying a capture decides, if anything (for the freshness SLO)."""
        return self.consumes.decision

    def handles(self, event: Event) -> bool:
        """Whether this subscription applies events of this type (others on its topics are passed over)."""
        return self.handles_type(type(event.payload))

    def handles_type(self, payload: type[EventPayload]) -> bool:
        """Whether this subscription applies events with this payload type."""
        return payload in self._handlers

    async def apply(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Apply a batch in `uow`: load, each event's handler, save. The caller marks them processed and commits."""
        batch = self._new_batch()
        await batch.load(uow, events)
        for event in events:
            with structlog.contextvars.bound_contextvars(event_id=event.id, lead_id=event.lead_id):
                await self._handlers[type(event.payload)](batch, uow, event)
        await batch.save(uow)
