"""The unit of work's contract, which every service's writes rely on: nothing is kept unless committed, and what
is committed (domain rows, outbox and inbox rows) is kept together; listeners hear only of committed events, and
one that fails after the commit does not make the commit look failed."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
import structlog
from sqlalchemy import Column, Integer, String, Table, func, insert, select

from shared.db.database import Database, sqlite_url_for
from shared.db.metadata import INBOX, OUTBOX, new_metadata
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event, new_event
from shared.events.models import Contact, LeadCaptured, Source

METADATA = new_metadata()
NOTES = Table("notes", METADATA, Column("id", Integer, primary_key=True), Column("text", String(50)))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(sqlite_url_for(tmp_path, "uow"))
    async with db.engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    yield db
    await db.dispose()


def captured() -> Event:
    payload = LeadCaptured(
        lead_id=uuid4(), contact=Contact(email="a@acme.com"), source=Source(provider="t"), captured_at=datetime.now(UTC)
    )
    return new_event(payload, source="/test")


async def _counts(database: Database) -> tuple[int, int, int]:
    async with database.session() as session:
        return (
            (await session.execute(select(func.count()).select_from(NOTES))).scalar_one(),
            (await session.execute(select(func.count()).select_from(OUTBOX))).scalar_one(),
            (await session.execute(select(func.count()).select_from(INBOX))).scalar_one(),
        )


async def _write(uow: UnitOfWork) -> Event:
    event = captured()
    await uow.session.execute(insert(NOTES).values(text="domain row"))
    uow.emit(event)
    uow.mark_processed("tests", captured())
    return event


async def test_nothing_is_kept_unless_committed(database: Database) -> None:
    heard: list[list[Event]] = []
    async with UnitOfWork(database, listeners=[heard.append]) as uow:
        await _write(uow)
    assert await _counts(database) == (0, 0, 0)
    with pytest.raises(RuntimeError, match="boom"):
        async with UnitOfWork(database, listeners=[heard.append]) as uow:
            await _write(uow)
            raise RuntimeError("boom")
    assert await _counts(database) == (0, 0, 0)
    assert heard == []


async def test_a_commit_keeps_the_rows_the_outbox_and_the_inbox_together(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        event = await _write(uow)
        await uow.commit()
    assert await _counts(database) == (1, 1, 1)
    async with database.session() as session:
        row = (await session.execute(select(OUTBOX.c.event_id, OUTBOX.c.topic, OUTBOX.c.key))).one()
    assert tuple(row) == (event.id, "leads.intake", event.lead_id)


async def test_listeners_hear_only_after_the_commit_and_only_of_what_it_wrote(database: Database) -> None:
    heard: list[list[str]] = []

    def listener(events: list[Event]) -> None:
        heard.append([e.id for e in events])

    async with UnitOfWork(database, listeners=[listener]) as uow:
        first = await _write(uow)
        assert heard == []
        await uow.commit()
        assert heard == [[first.id]]
        assert (await _counts(database))[1] == 1, "what the listener heard of is in the outbox for others to read"
        second = await _write(uow)
        await uow.commit()
    assert heard == [[first.id], [second.id]], "each commit tells only its own events"


async def test_a_listener_failing_after_the_commit_does_not_undo_or_fail_it(database: Database) -> None:
    heard: list[list[Event]] = []

    def broken(events: list[Event]) -> None:
        raise ValueError("listener bug")

    with structlog.testing.capture_logs() as logs:
        async with UnitOfWork(database, listeners=[broken, heard.append]) as uow:
            await _write(uow)
            await uow.commit()  # does not raise
    assert await _counts(database) == (1, 1, 1)
    assert [entry["event"] for entry in logs] == ["unit_of_work.listener_failed"]
    assert len(heard) == 1, "the listener after the failing one still hears"
