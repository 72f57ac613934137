import asyncio
import uuid

import pytest
from sqlalchemy import inspect

from services.registry import SERVICE_NAMES, service
from shared.db import migrations
from shared.db.database import Database


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_upgrade_matches_the_models_and_downgrade_removes_everything(name: str, database_url: str) -> None:
    spec = service(name)
    schema = f"mig_{name}_{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
    database = Database(database_url, schema)
    try:
        async with database.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names(schema=schema)))
        from importlib import import_module

        metadata = import_module(f"services.{name}.persistence.tables").metadata
        assert tables == set(metadata.tables) | {"alembic_version"}
        await asyncio.to_thread(migrations.downgrade, spec.migrations, database_url, schema, "base")
        async with database.engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names(schema=schema)))
        assert left == {"alembic_version"}
    finally:
        await database.dispose()


async def test_migrations_are_idempotent(database_url: str) -> None:
    spec = service("intake")
    schema = f"mig_twice_{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
    await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
