"""Lead ids under an installation secret: ids reveal nothing, and an installation switching to them keeps every
lead it has (nobody split in two)."""

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from services.intake.commands.lead_ids import adopt, fingerprint
from services.intake.domain import identity
from services.intake.persistence.tables import identity_keys, identity_links, leads
from shared.db.database import Database
from shared.ids import keyed_lead_id, lead_id_for
from tests.service.conftest import running_service
from tests.support import bearer, eventually, lead_payload

SECRET = "an-installation-secret-of-32-chars-or-more"


async def capture(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/v1/leads", json=lead_payload(email), headers=bearer())
    assert response.status_code == 202, response.text
    return str(response.json()["lead_id"])


async def test_an_installation_switching_to_keyed_ids_keeps_its_leads(database_url: str, kafka_bootstrap: str) -> None:
    schema = f"intake_{uuid.uuid4().hex[:8]}"
    try:
        async with running_service("intake", database_url, kafka_bootstrap, database_schema=schema) as (_, client, s):
            known = await capture(client, "ann.keyed@acme-industries.com")
            assert known == str(lead_id_for("ann.keyed@acme-industries.com"))  # public UUIDv5: anyone can check
        async with running_service(
            "intake", database_url, kafka_bootstrap, database_schema=schema, lead_id_key=SECRET
        ) as (_, client, s):
            database = Database(s.database_url, s.database_schema)

            async def adopted() -> int:
                async with database.session() as session:
                    return int(await session.scalar(select(func.count()).select_from(identity_keys)) or 0)

            await eventually(adopted, what="the secret adopted at start")
            probe = "email:probe@example.org"
            await eventually(lambda: _async(identity.derived_id(probe) != lead_id_for("probe@example.org")))
            async with database.session() as session:
                assert await session.scalar(select(identity_keys.c.fingerprint)) == fingerprint(SECRET.encode())
            # Ann, known before, still reaches her lead; Bob, new, gets an id nobody can derive without the secret.
            assert await capture(client, "Ann.Keyed@acme-industries.com") == known
            bob = await capture(client, "bob.keyed@acme-industries.com")
            assert bob != str(lead_id_for("bob.keyed@acme-industries.com"))
            assert bob == str(keyed_lead_id(SECRET.encode(), "email:bob.keyed@acme-industries.com"))
            async with database.session() as session:
                assert await session.scalar(select(func.count()).select_from(leads)) == 2
            await database.dispose()
    finally:
        identity.use_keyed_ids(None)  # the derivation is per process: later tests expect the default


def test_keyed_ids_depend_on_the_secret_and_reveal_nothing() -> None:
    key = "email:ann@acme-industries.com"
    first, second = keyed_lead_id(b"one secret", key), keyed_lead_id(b"another secret", key)
    assert first == keyed_lead_id(b"one secret", key) and first != second
    assert first != lead_id_for("ann@acme-industries.com") and first.version == 4


def test_production_needs_the_installation_secret() -> None:
    import pytest

    from services.intake.settings import IntakeSettings

    tokens: dict[str, Any] = {"api_token": "a" * 32, "metrics_token": "m" * 32}
    with pytest.raises(ValueError, match="LEADFLOW_LEAD_ID_KEY"):
        IntakeSettings(environment="production", **tokens)
    IntakeSettings(environment="production", lead_id_key=SECRET, **tokens)


async def _async(value: bool) -> bool:
    return value


async def test_two_replicas_adopting_one_secret_at_once_link_each_lead_once(
    database_url: str, kafka_bootstrap: str
) -> None:
    """Two intake replicas start with the secret at the same moment: one adopts it, the other waits for it, and
    every lead known before still resolves to itself."""
    schema = f"intake_{uuid.uuid4().hex[:8]}"
    try:
        async with running_service("intake", database_url, kafka_bootstrap, database_schema=schema) as (_, client, s):
            known = [await capture(client, f"p{i}.race@acme-industries.com") for i in range(30)]
            replicas = [Database(s.database_url, s.database_schema) for _ in range(2)]
            written = await asyncio.gather(*(adopt(db, SECRET.encode()) for db in replicas))
            async with replicas[0].session() as session:
                assert await session.scalar(select(func.count()).select_from(identity_keys)) == 1
                links = await session.scalar(select(func.count()).select_from(identity_links))
            assert sum(written) == links == 30  # one link per known address, written once between them
            for i, lead in enumerate(known):
                assert await capture(client, f"p{i}.race@acme-industries.com") == lead
            for db in replicas:
                await db.dispose()
    finally:
        identity.use_keyed_ids(None)
