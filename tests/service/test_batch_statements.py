"""The batch-lookup and upsert statements built once per dialect answer alike on PostgreSQL and SQLite."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import Database
from shared.db.upsert import upsert_many

# Resolved before the async fixture, outside the event loop (it probes the server with asyncio.run).
pytestmark = pytest.mark.usefixtures("database_url")

METADATA = MetaData()
ITEMS = Table("batch_items", METADATA, Column("key", String(20), primary_key=True), Column("n", Integer))
LOOKUP = {
    dialect: select(ITEMS.c.key).where(one_of(ITEMS.c.key, "keys", dialect)) for dialect in ("postgresql", "sqlite")
}


@pytest.fixture(params=["postgresql", "sqlite"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = (
        request.getfixturevalue("database_url")
        if request.param == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path}/b.db"
    )
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(METADATA.drop_all)  # the PostgreSQL database is shared by the test run
        await conn.run_sync(METADATA.create_all)
        await conn.execute(insert(ITEMS), [{"key": f"k{i}", "n": i} for i in range(50)])
    yield db
    await db.dispose()


async def test_one_of_matches_exactly_the_listed_keys(database: Database) -> None:
    async with database.session() as session:
        statement = LOOKUP[dialect_of(session)]
        for keys in (["k1"], ["k3", "k7", "nope"], [f"k{i}" for i in range(0, 50, 2)], ["nope"]):
            found = set((await session.execute(statement, {"keys": keys})).scalars())
            assert found == {k for k in keys if k != "nope"}


async def test_upsert_many_inserts_then_updates(database: Database) -> None:
    async with database.session() as session, session.begin():
        await upsert_many(session, ITEMS, ["key"], [{"key": "k1", "n": 100}, {"key": "new", "n": 7}])
        await upsert_many(session, ITEMS, ["key"], [{"key": "new", "n": 8}])
    async with database.session() as session:
        rows = dict((await session.execute(select(ITEMS.c.key, ITEMS.c.n).where(ITEMS.c.key.in_(["k1", "new"])))).all())
    assert rows == {"k1": 100, "new": 8}
