"""One async engine per service, on PostgreSQL (a schema per service) or SQLite (a file per service)."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class Database:
    """An engine and session factory bound to one service's schema or file."""

    def __init__(
        self, url: str, schema: str | None = None, *, echo: bool = False, pool_size: int = 5, max_overflow: int = 5
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.schema = None if self.is_sqlite else schema
        self.engine: AsyncEngine = _create_engine(
            url, self.schema, echo=echo, pool_size=pool_size, max_overflow=max_overflow
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    def session(self) -> AsyncSession:
        """A new session; the caller owns its transaction."""
        return self.sessions()

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether the database answers within the timeout."""
        try:
            await asyncio.wait_for(self.ping(), timeout=timeout_s)
        except Exception:  # noqa: BLE001 - any failure to answer means unreachable
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _create_engine(url: str, schema: str | None, *, echo: bool, pool_size: int, max_overflow: int) -> AsyncEngine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Plans are made for the table as it is now. asyncpg prepares every statement, and PostgreSQL keeps a generic
    # plan after five runs: one made while a fresh install's tables were a few pages keeps its sequential scans
    # as the tables grow, until autovacuum analyses. Custom plans cost a little planning and track the size.
    server_settings = {"plan_cache_mode": "force_custom_plan"}
    if schema:
        # search_path keeps table names unqualified so the same models serve SQLite and PostgreSQL.
        server_settings["search_path"] = schema
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    # No pre-ping: it costs two round trips on every checkout, on the path of every group commit, relay batch
    # and consumer batch. A connection lost to a database restart fails its
    # statement instead; SQLAlchemy then invalidates the pool's older connections, and every caller retries
    # (HTTP answers 503 with Retry-After, consumers and the relay back off) — the fault suite restarts
    # PostgreSQL under load to hold that.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args=connect_args,
        # A failed statement's text is logged; its parameters are names, titles, answers and addresses.
        hide_parameters=True,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the consumer writes; NORMAL sync is durable enough with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def sqlite_url_for(directory: Path, service: str) -> str:
    """The embedded mode's SQLite URL of one service."""
    return f"sqlite+aiosqlite:///{directory / f'{service}.db'}"


def aware(moment: datetime) -> datetime:
    """A timestamp read back from the database, in UTC: SQLite returns them without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
