"""A service's own database role (`leadflow migrate --roles`): its schema's tables to read and write, nothing of
another service's, no DDL."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.registry import service
from services.scorer.persistence.tables import profiles
from shared.db.database import Database
from shared.db.roles import grant_service_role
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import new_event
from shared.events.models import Contact, LeadCaptured, Source


@pytest.fixture
async def scorer_role(database_url: str) -> AsyncIterator[tuple[Database, str, str]]:
    tag = uuid.uuid4().hex[:8]
    intake_schema, scorer_schema, role = f"intake_{tag}", f"scorer_{tag}", f"leadflow_scorer_{tag}"
    for name, schema in (("intake", intake_schema), ("scorer", scorer_schema)):
        spec = service(name)
        await asyncio.to_thread(spec.migrate, spec.settings(database_url=database_url, database_schema=schema))
    owner = Database(database_url, scorer_schema)
    async with owner.engine.begin() as connection:
        await grant_service_role(connection, schema=scorer_schema, role=role, password=f"pw-{tag}'quote")
    url = make_url(database_url).set(username=role, password=f"pw-{tag}'quote").render_as_string(hide_password=False)
    as_role = Database(url, scorer_schema)
    try:
        yield as_role, intake_schema, scorer_schema
    finally:
        await as_role.dispose()
        async with owner.engine.begin() as connection:
            await connection.execute(text(f'DROP OWNED BY "{role}"'))
            await connection.execute(text(f'DROP ROLE "{role}"'))
        await owner.dispose()


async def test_a_services_role_reaches_its_own_schema_only(scorer_role: tuple[Database, str, str]) -> None:
    database, intake_schema, _ = scorer_role
    # Its own work: read its tables, write the outbox (a sequence), take an advisory lock, NOTIFY.
    async with UnitOfWork(database) as uow:
        uow.emit(
            new_event(
                LeadCaptured(
                    lead_id=uuid.uuid4(), contact=Contact(), source=Source(provider="t"), captured_at=datetime.now(UTC)
                ),
                source="/test",
            )
        )
        await uow.commit()
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(profiles)) == 0
        assert await session.scalar(text("SELECT pg_try_advisory_lock(42)")) is True
        await session.execute(text("NOTIFY leadflow_outbox, 'x'"))
    # Another service's tables and any change of schema are refused.
    for statement in (f'SELECT count(*) FROM "{intake_schema}".leads', "CREATE TABLE sneaky (id int)"):
        async with database.session() as session:
            with pytest.raises(DBAPIError, match="permission denied"):
                await session.execute(text(statement))


def test_migrate_roles_names_the_missing_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from services.cli import app

    for name in ("INTAKE", "SCORER", "QUALIFIER", "FORECAST"):
        monkeypatch.delenv(f"LEADFLOW_DB_ROLE_PASSWORD_{name}", raising=False)
    refused = CliRunner().invoke(app, ["migrate", "--roles", "scorer"], env={"LEADFLOW_DB_ROLE_PASSWORD_SCORER": ""})
    assert refused.exit_code == 2 and "LEADFLOW_DB_ROLE_PASSWORD_SCORER" in refused.output
