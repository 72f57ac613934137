"""The qualifier's lead rows: commands and handlers change a `Lead` in place, and the transaction writes back
exactly what changed (nothing for a lead only read)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select

from services.qualifier.bootstrap import MIGRATIONS
from services.qualifier.domain.lead import Lead
from services.qualifier.persistence.lead_rows import lead_rows
from services.qualifier.persistence.tables import leads
from shared.db import migrations
from shared.db.database import Database, sqlite_url_for
from shared.db.unit_of_work import UnitOfWork
from shared.ids import as_lead_id

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
A, B = as_lead_id(uuid.uuid4()), as_lead_id(uuid.uuid4())


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = sqlite_url_for(tmp_path, "qualifier")
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url, None)
    db = Database(url)
    async with UnitOfWork(db) as uow:
        for lead_id in (A, B):
            lead_rows(uow).insert(Lead(lead_id, "lead", NOW, NOW, facts={"k": 1}))
        await lead_rows(uow).save(uow)
        await uow.commit()
    yield db
    await db.dispose()


async def test_only_the_changed_columns_of_the_changed_leads_are_written(database: Database) -> None:
    updates: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE"):
            updates.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    async with UnitOfWork(database) as uow:
        rows = lead_rows(uow)
        a, b = await rows.get(uow.session, A), await rows.get(uow.session, B)
        assert a is not None and b is not None and not rows.unsaved()
        a.owner, a.facts = "ana.emea", a.facts | {"pain": "yes"}
        assert rows.unsaved()
        with pytest.raises(RuntimeError, match="unsaved changes"):
            await uow.commit()
        await rows.save(uow)
        assert not rows.unsaved()
        await rows.save(uow)  # nothing left to write
        await uow.commit()
    assert len(updates) == 1 and "owner" in updates[0] and "facts" in updates[0] and "stage" not in updates[0]
    async with database.session() as session:
        stored = {r.lead_id: r for r in (await session.execute(select(leads))).all()}
    assert (stored[A].owner, stored[A].facts) == ("ana.emea", {"k": 1, "pain": "yes"})
    assert (stored[B].owner, stored[B].facts) == (None, {"k": 1})
