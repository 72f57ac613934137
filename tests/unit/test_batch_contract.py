"""The handler contract: load, apply each event, save; the commit only commits and refuses unsaved changes."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from shared.db.database import Database, sqlite_url_for
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event, new_event
from shared.events.models import Contact, LeadCaptured, LeadScored, Source
from shared.events.vocabulary import Segment
from shared.messaging.subscription import Consumes, On, Subscription


class Gathered:
    def __init__(self) -> None:
        self.rows: list[str] = []

    def unsaved(self) -> bool:
        return bool(self.rows)


class Steps:
    def __init__(self, calls: list[str] | None = None) -> None:
        self.calls = calls if calls is not None else []

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        self.calls.append(f"load {len(events)}")

    async def save(self, uow: UnitOfWork) -> None:
        state = uow.state("rows", Gathered)
        self.calls.append(f"save {len(state.rows)}")
        state.rows.clear()


def captured() -> Event:
    return new_event(
        LeadCaptured(
            lead_id=uuid4(),
            contact=Contact(email="a@acme.com"),
            source=Source(provider="t"),
            captured_at=datetime.now(UTC),
        ),
        source="/test",
    )


async def on_captured(steps: Steps, uow: UnitOfWork, event: Event[LeadCaptured]) -> None:
    uow.state("rows", Gathered).rows.append(event.id)
    steps.calls.append(f"apply {event.payload.source.provider}")


def test_a_table_with_two_handlers_for_one_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="one handler per event type"):
        Consumes[Steps]((On(LeadCaptured, on_captured), On(LeadCaptured, on_captured)))


def test_the_topics_come_from_the_handled_event_types() -> None:
    async def on_scored(_: Steps, uow: UnitOfWork, event: Event[LeadScored]) -> None:
        pass

    consumes = Consumes[Steps]((On(LeadScored, on_scored), On(LeadCaptured, on_captured)))
    assert [t.name for t in consumes.topics] == ["leads.scores", "leads.intake"]


async def test_a_batch_is_loaded_once_applied_in_order_and_saved_once(tmp_path: Path) -> None:
    calls: list[str] = []
    made: list[Steps] = []

    def new_batch() -> Steps:
        made.append(Steps(calls))
        return made[-1]

    subscription = Subscription(Consumes[Steps]((On(LeadCaptured, on_captured),)), new_batch)
    events = [captured(), captured()]
    scored = new_event(
        LeadScored(
            lead_id=uuid4(),
            fit=1,
            engagement=1,
            score=1,
            segment=Segment.COLD,
            mql=False,
            rules_version="r",
            scored_at=datetime.now(UTC),
        ),
        source="/test",
    )
    assert [subscription.handles(e) for e in [*events, scored]] == [True, True, False]
    database = Database(sqlite_url_for(tmp_path, "t"))
    try:
        async with UnitOfWork(database) as uow:
            await subscription.apply(uow, events)
            await uow.commit()
        async with UnitOfWork(database) as uow:
            await subscription.apply(uow, [captured()])
            await uow.commit()
        assert calls == ["load 2", "apply t", "apply t", "save 2", "load 1", "apply t", "save 1"]
        assert len(made) == 2, "each transaction gets a batch of its own"
    finally:
        await database.dispose()


async def test_the_commit_refuses_changes_nobody_saved(tmp_path: Path) -> None:
    database = Database(sqlite_url_for(tmp_path, "t"))
    try:
        async with UnitOfWork(database) as uow:
            uow.state("rows", Gathered).rows.append("x")
            with pytest.raises(RuntimeError, match="unsaved changes in rows"):
                await uow.commit()
    finally:
        await database.dispose()
