"""Insert-or-update by key in one statement, on PostgreSQL and SQLite alike."""

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.batch_lookup import dialect_of


async def upsert(session: AsyncSession, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
    """Write `values` for the row identified by `keys`, creating it when missing (no read first, no race)."""
    insert = postgresql_insert if dialect_of(session) == "postgresql" else sqlite_insert
    statement = insert(table).values(**keys, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=values))


async def upsert_many(session: AsyncSession, table: Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """Write many rows by key; every row carries the same columns.

    Executed as an executemany of one statement, so it is compiled once and cached (a multi-row VALUES built
    per batch was compiled anew every time and cost more CPU than the database's work).
    """
    if not rows:
        return
    statement = _upsert_statement(dialect_of(session), table, tuple(keys), tuple(rows[0]))
    await session.execute(statement, rows)


@lru_cache(maxsize=256)
def _upsert_statement(dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Executable:
    # Built once per shape: building it (and its cache key) per batch cost more than executing it.
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    updated = {name: statement.excluded[name] for name in columns if name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=updated)
