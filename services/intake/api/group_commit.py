"""Group commit for webhooks: deliveries that arrive together are stored in one transaction.

Each sender still gets its 202 only after the transaction holding its delivery has committed; one bad delivery
in a group sends the group back to one transaction each, so it cannot take the others down with it.
"""

import asyncio
from dataclasses import dataclass

import structlog
from prometheus_client import Histogram

from services.intake.commands.capture import Arrival, CaptureResult, accept, log_committed, stage
from services.intake.webhooks.contract import Parsed
from shared.db.unit_of_work import UnitOfWorkFactory

log = structlog.get_logger(__name__)


@dataclass
class _Waiting:
    provider: str
    parsed: Parsed
    future: "asyncio.Future[CaptureResult]"


class AcceptBatcher:
    """Collects concurrent deliveries and commits them together."""

    def __init__(
        self, uow: UnitOfWorkFactory, group_size: Histogram, max_batch: int = 100, max_in_flight: int = 2
    ) -> None:
        self._uow = uow
        self._group_size = group_size
        self._max_batch = max_batch
        # A second group is staged while the first waits for the database, so the event loop is not idle
        # through every commit; concurrent groups touching one lead serialise on its row lock.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._queue: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def accept(self, provider: str, parsed: Parsed) -> CaptureResult:
        """Store the delivery (with whatever else is waiting) and return its result once committed."""
        waiting = _Waiting(provider, parsed, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._drainer is None or self._drainer.done():
            # Its own task: a sender hanging up must not strand the others' deliveries.
            self._drainer = asyncio.create_task(self._drain(), name="intake.group_commit")
        return await waiting.future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the requests already in flight join this group
        while self._queue:
            await self._slots.acquire()
            group = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            task = asyncio.create_task(self._commit_then_release(group), name="intake.group")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _commit_then_release(self, group: list[_Waiting]) -> None:
        try:
            await self._commit(group)
        finally:
            self._slots.release()

    async def _commit(self, group: list[_Waiting]) -> None:
        self._group_size.observe(len(group))
        if len(group) > 1:
            try:
                async with self._uow() as uow:
                    results = await stage(uow, [Arrival(w.provider, w.parsed) for w in group])
                    await uow.commit()
            except Exception as exc:  # noqa: BLE001 - retried one by one below, where each failure is its sender's
                log.debug("intake.group_commit_split", size=len(group), error=repr(exc))
            else:
                log_committed(uow)
                for waiting, result in zip(group, results, strict=True):
                    if not waiting.future.done():
                        waiting.future.set_result(result)
                return
        for waiting in group:
            try:
                result = await accept(self._uow, Arrival(waiting.provider, waiting.parsed))
            except Exception as exc:  # noqa: BLE001 - handed to the request that sent it
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
            else:
                if not waiting.future.done():
                    waiting.future.set_result(result)
