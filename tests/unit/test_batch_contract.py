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
from shared.messaging.subscription import Subscription


class Gathered:
    def __init__(self) -> None:
        self.rows: list[str] = []

    def unsaved(self) -> bool:
        return bool(self.rows)


class Steps:
    def __init__(self) -> None:
        self.calls: list[str] = []

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


async def test_a_batch_is_loaded_once_applied_in_order_and_saved_once(tmp_path: Path) -> None:
    steps = Steps()

    async def on_captured(uow: UnitOfWork, event: Event) -> None:
        uow.state("rows", Gathered).rows.append(event.id)
        steps.calls.append("apply")

    subscription = Subscription({LeadCaptured: on_captured}, batch=steps)
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
        assert steps.calls == ["load 2", "apply", "apply", "save 2"]
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
