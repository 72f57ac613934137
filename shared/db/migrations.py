"""Run a service's Alembic migrations against its own schema or file (`leadflow migrate`)."""

import asyncio
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db.database import Database


def alembic_config(script_location: Path, url: str, schema: str | None) -> Config:
    """An in-memory Alembic config: no alembic.ini to drift from the settings."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["url"] = url
    config.attributes["schema"] = schema
    return config


def upgrade(script_location: Path, url: str, schema: str | None, revision: str = "head") -> None:
    """Bring one service's database to `revision`; safe to call on every start."""
    command.upgrade(alembic_config(script_location, url, schema), revision)


def downgrade(script_location: Path, url: str, schema: str | None, revision: str) -> None:
    """Take one service's database back to `revision`."""
    command.downgrade(alembic_config(script_location, url, schema), revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's env.py: online migrations on the async engine."""
    from alembic import context as proxy  # filled in by Alembic only while it runs an env.py

    context = cast(EnvironmentContext, proxy)
    config = context.config
    database = Database(config.attributes["url"], config.attributes.get("schema"))
    asyncio.run(_run_online(context, database, target_metadata))


async def _run_online(context: EnvironmentContext, database: Database, metadata: MetaData) -> None:
    if database.schema:
        async with database.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"'))
    async with database.engine.connect() as conn:
        await conn.run_sync(_configure_and_run, context, metadata, database.schema)
        await conn.commit()
    await database.dispose()


def _configure_and_run(conn: Connection, context: EnvironmentContext, metadata: MetaData, schema: str | None) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table_schema=schema,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
