"""The handler contract of every consumer: load a batch's rows once, apply each event, save and emit once.

A consumer group applies the events of one poll in one transaction. `load` reads (and locks) every row the batch
will change in one query; the handlers apply the domain to those rows, one event at a time, in order; `save` writes
what changed and emits what it says, before the unit of work commits. The commit itself only commits.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import EventPayload

Handler = Callable[[UnitOfWork, Event], Awaitable[None]]


class BatchSteps(Protocol):
    """What a consumer does once per batch, around its per-event handlers."""

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Read (and lock, in id order) every row these events will change."""

    async def save(self, uow: UnitOfWork) -> None:
        """Write what the handlers changed and emit what follows from it."""


@dataclass(frozen=True)
class Subscription:
    """One handler per consumed event type, and the batch steps around them (none for row-at-a-time handlers).

    `decision` names what applying a lead's capture decides (the scorer's first score, the qualifier's first
    stage): the consumer measures its freshness, the time from capture to that commit, for the SLO."""

    handlers: Mapping[type[EventPayload], Handler]
    batch: BatchSteps | None = None
    decision: str | None = None

    def handles(self, event: Event) -> bool:
        """Whether this subscription applies events of this type (others on its topics are passed over)."""
        return type(event.payload) in self.handlers

    async def apply(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Apply a batch in `uow`: load, each event's handler, save. The caller marks them processed and commits."""
        if self.batch is not None:
            await self.batch.load(uow, events)
        for event in events:
            with structlog.contextvars.bound_contextvars(event_id=event.id, lead_id=event.lead_id):
                await self.handlers[type(event.payload)](uow, event)
        if self.batch is not None:
            await self.batch.save(uow)
