import asyncio
import sys
import uuid
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection

from services.registry import SERVICE_NAMES, service
from shared.db import migrations
from shared.db.database import Database


def _differences(connection: Connection, metadata: MetaData) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models (types included)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_upgrade_matches_the_models_and_downgrade_removes_everything(name: str, database_url: str) -> None:
    spec = service(name)
    schema = f"mig_{name}_{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
    database = Database(database_url, schema)
    metadata = import_module(f"services.{name}.persistence.tables").metadata
    try:
        async with database.engine.connect() as conn:
            assert await conn.run_sync(_differences, metadata) == []
        await asyncio.to_thread(migrations.downgrade, spec.migrations, database_url, schema, "base")
        async with database.engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names(schema=schema)))
        assert left == {"alembic_version"}
    finally:
        await database.dispose()


async def test_upgrading_a_schema_at_head_again_changes_nothing(database_url: str) -> None:
    spec = service("intake")
    schema = f"mig_twice_{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
    database = Database(database_url, schema)
    try:
        head = await migrations.check_at_head(database, spec.migrations)
        async with database.engine.connect() as conn:
            tables = sorted(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
        assert await migrations.check_at_head(database, spec.migrations) == head
        async with database.engine.connect() as conn:
            assert sorted(await conn.run_sync(lambda c: inspect(c).get_table_names())) == tables
            metadata = import_module("services.intake.persistence.tables").metadata
            assert await conn.run_sync(_differences, metadata) == []
    finally:
        await database.dispose()


async def test_replicas_migrating_at_once_take_turns(database_url: str) -> None:
    """Every replica's init container runs the migrations as it starts; they must not race on a fresh schema."""
    spec = service("qualifier")
    schema = f"mig_race_{uuid.uuid4().hex[:6]}"
    # Processes, as replicas are (Alembic's context is one per process).
    code = "import sys; from shared.db import migrations; migrations.upgrade(*sys.argv[1:])"
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, str(spec.migrations), database_url, schema, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    for run in runs:
        _, errors = await run.communicate()
        assert run.returncode == 0, errors.decode()[-2000:]
    database = Database(database_url, schema)
    try:
        assert await migrations.check_at_head(database, spec.migrations)
    finally:
        await database.dispose()


async def test_a_service_refuses_a_schema_behind_its_code_and_runs_on_a_newer_one(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    spec = service("intake")
    schema = f"mig_head_{uuid.uuid4().hex[:6]}"
    database = Database(database_url, schema)
    scripts = ScriptDirectory.from_config(migrations.alembic_config(spec.migrations, database_url, schema))
    head = scripts.get_current_head()
    assert head is not None
    older = scripts.get_revision(head).down_revision
    assert isinstance(older, str)
    try:
        with pytest.raises(migrations.SchemaBehind, match=r"no revision.*run `leadflow migrate`"):
            await migrations.check_at_head(database, spec.migrations)
        await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema, older)
        with pytest.raises(migrations.SchemaBehind, match=f"is at {older}, this code needs {head}"):
            await migrations.check_at_head(database, spec.migrations)
        await asyncio.to_thread(migrations.upgrade, spec.migrations, database_url, schema)
        assert await migrations.check_at_head(database, spec.migrations) == head
        # A revision this code does not know is a newer one (code rolled back after a migration): it runs.
        async with database.engine.begin() as conn:
            await conn.execute(text(f'UPDATE "{schema}".alembic_version SET version_num = :v'), {"v": "f00dfeed0001"})
        assert await migrations.check_at_head(database, spec.migrations) == "f00dfeed0001"
    finally:
        await database.dispose()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_migrations_run_on_sqlite_as_make_run_uses_them(name: str, tmp_path: Path) -> None:
    """`make run` keeps each service in a SQLite file: every migration must speak its dialect both ways."""
    spec = service(name)
    url = f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
    migrations.upgrade(spec.migrations, url, None)
    migrations.downgrade(spec.migrations, url, None, "base")
    migrations.upgrade(spec.migrations, url, None)
