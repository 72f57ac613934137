"""Run a service's Alembic migrations against its own schema or file (`leadflow migrate`)."""

import asyncio
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import Connection

from shared.db.database import Database
from shared.db.locks import lock_key


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
    # Every replica's init container may migrate at once: the first takes the lock and migrates, the others wait
    # for it and then find the schema at head. The lock is the session's, so it covers creating the schema too.
    key = lock_key("migrate", database.schema)
    async with database.engine.connect() as conn:
        if not database.is_sqlite:
            await conn.execute(select(func.pg_advisory_lock(key)))
            await conn.commit()
        try:
            if database.schema:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"'))
                await conn.commit()
            await conn.run_sync(_configure_and_run, context, metadata, database.schema)
            await conn.commit()
        finally:
            if not database.is_sqlite:
                await conn.execute(select(func.pg_advisory_unlock(key)))
                await conn.commit()
    await database.dispose()


class SchemaBehind(RuntimeError):
    """The database is at an older revision than this code needs (or has none): it must be migrated first."""


async def check_at_head(database: Database, script_location: Path) -> str:
    """The database's revision, if this code can run on it: at head, or at a revision this code does not know
    (a newer one: code rolled back after a migration; migrations add before they remove, so the older code runs).
    Raises SchemaBehind if it is at an older revision of this code or was never migrated."""
    scripts = ScriptDirectory.from_config(alembic_config(script_location, database.url, database.schema))
    head = scripts.get_current_head()
    opts = {"version_table_schema": database.schema}
    async with database.engine.connect() as conn:
        current = await conn.run_sync(lambda sync: MigrationContext.configure(sync, opts=opts).get_current_revision())
    if current == head:
        return str(current)
    known = {script.revision for script in scripts.walk_revisions()}
    if current is None or current in known:
        raise SchemaBehind(
            f"schema {database.schema or database.url} is at {current or 'no revision'}, this code needs {head}: "
            "run `leadflow migrate` (in Kubernetes the init container does) before starting it"
        )
    return str(current)


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
