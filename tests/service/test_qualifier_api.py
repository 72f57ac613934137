import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.qualifier.handlers import QualifierHandlers
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import decode, new_event
from shared.events.models import Contact, LeadCaptured, LeadScored, Source
from shared.events.vocabulary import Segment
from tests.service.conftest import running_service
from tests.support import bearer, token_with


@pytest.fixture
async def qualifier(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    async with running_service("qualifier", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield client, database
        await database.dispose()


async def capture(database: Database, *, mql: bool = False) -> str:
    """Apply intake's and the scorer's events through the qualifier's own handlers."""
    lead_id = uuid.uuid4()
    handlers = QualifierHandlers("test")
    uow_factory = UnitOfWorkFactory(database)
    captured = LeadCaptured(
        lead_id=lead_id,
        contact=Contact(email=f"{lead_id.hex[:8]}@acme.com"),
        source=Source(provider="generic"),
        captured_at=datetime.now(UTC),
    )
    scored = LeadScored(
        lead_id=lead_id,
        fit=80,
        engagement=60,
        score=70 if mql else 20,
        segment=Segment.HOT,
        mql=mql,
        rules_version="r1",
        scored_at=datetime.now(UTC),
    )
    for payload, handler in ((captured, handlers.on_captured), (scored, handlers.on_scored)):
        async with uow_factory() as uow:
            await handler(uow, new_event(payload, source="/test"))
            await uow.commit()
    return str(lead_id)


async def emitted(database: Database) -> list[str]:
    async with database.session() as session:
        rows = (await session.execute(select(OUTBOX.c.payload).order_by(OUTBOX.c.id))).scalars().all()
    return [decode(r.encode()).envelope.type.split(".", 2)[2] for r in rows]


async def test_lead_becomes_mql_with_explained_history(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database, mql=True)
    response = await client.get(f"/v1/leads/{lead_id}", headers=bearer(token_with("leads:read")))
    assert response.status_code == 200
    lead = response.json()
    assert lead["stage"] == "mql" and lead["score"] == 70
    assert [(h["from_stage"], h["to_stage"], h["decided_by"]) for h in lead["history"]] == [
        (None, "lead", "qualifier"),
        ("lead", "mql", "scorer"),
    ]
    assert "crossed the MQL threshold" in lead["history"][1]["reason"]
    assert lead["history"][1]["rules_version"] == "r1"
    assert await emitted(database) == ["lead.stage_changed.v1", "lead.stage_changed.v1"]


async def test_opportunity_lifecycle_emits_events_and_moves_the_lead(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database)
    write = bearer(token_with("opportunities:write"))
    close_date = (date.today() + timedelta(days=30)).isoformat()
    opened = await client.post(
        "/v1/opportunities",
        json={"lead_id": lead_id, "name": "Fleet rollout", "amount": "25000.00", "expected_close_date": close_date},
        headers=write,
    )
    assert opened.status_code == 201, opened.text
    opp = opened.json()
    assert (opp["pipeline_stage"], opp["probability"], opp["currency"], opp["revision"]) == (
        "qualification",
        0.2,
        "USD",
        1,
    )
    patched = await client.patch(
        f"/v1/opportunities/{opp['opportunity_id']}", json={"pipeline_stage": "commit"}, headers=write
    )
    assert patched.json()["forecast_category"] == "commit" and patched.json()["revision"] == 2
    closed = await client.post(
        f"/v1/opportunities/{opp['opportunity_id']}/close",
        json={"won": True, "reason": "signed", "amount": "27000"},
        headers=write,
    )
    assert closed.status_code == 200 and closed.json()["status"] == "won" and closed.json()["amount"] == "27000.00"
    again = await client.post(f"/v1/opportunities/{opp['opportunity_id']}/close", json={"won": False}, headers=write)
    assert again.status_code == 409 and "already won" in again.json()["detail"]
    lead = (await client.get(f"/v1/leads/{lead_id}", headers=bearer())).json()
    assert [h["to_stage"] for h in lead["history"]] == ["lead", "opportunity", "customer"]
    assert await emitted(database) == [
        "lead.stage_changed.v1",
        "lead.stage_changed.v1",
        "opportunity.opened.v1",
        "opportunity.updated.v1",
        "opportunity.closed.v1",
        "lead.stage_changed.v1",
    ]


async def test_opportunity_for_unknown_lead_or_stage_is_refused(qualifier: Any) -> None:
    client, database = qualifier
    write = bearer(token_with("opportunities:write"))
    body = {"lead_id": str(uuid.uuid4()), "name": "X", "amount": "1", "expected_close_date": "2027-01-01"}
    missing = await client.post("/v1/opportunities", json=body, headers=write)
    assert missing.status_code == 404 and "captured" in missing.json()["detail"]
    lead_id = await capture(database)
    bad_stage = await client.post(
        "/v1/opportunities", json=body | {"lead_id": lead_id, "pipeline_stage": "hope"}, headers=write
    )
    assert bad_stage.status_code == 422 and "known: qualification" in bad_stage.json()["detail"]
    negative = await client.post("/v1/opportunities", json=body | {"lead_id": lead_id, "amount": "-5"}, headers=write)
    assert negative.status_code == 422


async def test_unknown_lead_is_404_problem(qualifier: Any) -> None:
    client, _ = qualifier
    response = await client.get(f"/v1/leads/{uuid.uuid4()}", headers=bearer())
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
