"""A second writer racing the first on the qualifier's aggregates: leads, opportunities, routing positions.

Each test fails without the write discipline (rows locked in id order, revisions checked, one open opportunity
per lead as a constraint): every request answered, yet an update lost.
"""

import asyncio
import itertools
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.qualifier.commands.qualification import Qualifier
from services.qualifier.handlers import LeadBatch, on_activity
from services.qualifier.persistence.tables import leads, opportunities, transitions
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import new_event
from shared.events.models import Company, LeadActivity, Source
from shared.events.vocabulary import ActivityType
from tests.service.test_qualifier_api import RULES, capture, emitted, qualifier  # noqa: F401 - the fixture is shared
from tests.support import bearer, token_with

WRITE = bearer(token_with("opportunities:write"))


async def open_one(client: httpx.AsyncClient, lead_id: str, name: str = "Fleet rollout") -> httpx.Response:
    close_date = (date.today() + timedelta(days=30)).isoformat()
    body = {"lead_id": lead_id, "name": name, "amount": "25000.00", "expected_close_date": close_date}
    return await client.post("/v1/opportunities", json=body, headers=WRITE)


async def test_evidence_posted_at_once_keeps_every_key(qualifier: Any) -> None:  # noqa: F811
    client, database = qualifier
    lead_id = await capture(database, mql=True)
    keys = ["pain", "budget", "authority", "timeline", "need", "champion", "competition"]
    responses = await asyncio.gather(
        *[
            client.post(
                f"/v1/leads/{lead_id}/evidence",
                json={"evidence": {key: f"{key} noted"}},
                headers=bearer(token_with("leads:write")),
            )
            for key in keys
        ]
    )
    assert [r.status_code for r in responses] == [200] * len(keys)
    async with database.session() as session:
        facts = await session.scalar(select(leads.c.facts).where(leads.c.lead_id == lead_id))
    assert sorted(k.removeprefix("evidence.") for k in facts if k.startswith("evidence.")) == sorted(keys)


async def test_concurrent_moves_never_claim_the_same_from_stage(qualifier: Any) -> None:  # noqa: F811
    client, database = qualifier
    lead_id = await capture(database, mql=True)
    write = bearer(token_with("leads:write"))
    targets = ["nurture", "disqualified", "nurture", "disqualified"]
    responses = await asyncio.gather(
        *[
            client.post(f"/v1/leads/{lead_id}/stage", json={"stage": t, "reason": "race"}, headers=write)
            for t in targets
        ]
    )
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    async with database.session() as session:
        rows = (
            await session.execute(
                select(transitions.c.from_stage, transitions.c.to_stage)
                .where(transitions.c.lead_id == lead_id)
                .order_by(transitions.c.id)
            )
        ).all()
    # Each transition starts where the one before it ended: no two claim the same from_stage.
    for before, after in itertools.pairwise(rows):
        assert after.from_stage == before.to_stage, rows


async def test_two_closes_at_once_close_once(qualifier: Any) -> None:  # noqa: F811
    client, database = qualifier
    lead_id = await capture(database)
    opened = (await open_one(client, lead_id)).json()
    url = f"/v1/opportunities/{opened['opportunity_id']}/close"
    results = await asyncio.gather(
        client.post(url, json={"won": True, "amount": "30000"}, headers=WRITE),
        client.post(url, json={"won": False, "reason": "lost to a rival"}, headers=WRITE),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    refused = next(r for r in results if r.status_code == 409).json()
    assert refused["current_revision"] == 2 and refused["opportunity_status"] in ("won", "lost")
    assert (await emitted(database)).count("opportunity.closed.v1") == 1


async def test_a_change_from_a_stale_revision_is_refused_with_the_current_one(qualifier: Any) -> None:  # noqa: F811
    client, database = qualifier
    lead_id = await capture(database)
    opened = (await open_one(client, lead_id)).json()
    url = f"/v1/opportunities/{opened['opportunity_id']}"
    first = await client.patch(url, json={"amount": "31000", "revision": 1}, headers=WRITE)
    assert first.status_code == 200 and first.json()["revision"] == 2
    stale = await client.patch(url, json={"pipeline_stage": "commit", "revision": 1}, headers=WRITE)
    assert stale.status_code == 409 and stale.json()["current_revision"] == 2
    assert stale.headers["content-type"] == "application/problem+json"
    close_stale = await client.post(f"{url}/close", json={"won": True, "revision": 1}, headers=WRITE)
    assert close_stale.status_code == 409
    patches = await asyncio.gather(
        *[client.patch(url, json={"amount": f"{40000 + i}", "revision": 2}, headers=WRITE) for i in range(4)]
    )
    assert sorted(r.status_code for r in patches) == [200, 409, 409, 409]
    current = (await client.get(url, headers=bearer())).json()
    assert current["revision"] == 3


async def test_one_open_opportunity_per_lead(qualifier: Any) -> None:  # noqa: F811
    client, database = qualifier
    lead_id = await capture(database)
    results = await asyncio.gather(*[open_one(client, lead_id, f"Deal {i}") for i in range(3)])
    assert sorted(r.status_code for r in results) == [201, 409, 409]
    existing = next(r for r in results if r.status_code == 201).json()["opportunity_id"]
    assert all(existing in r.json()["detail"] for r in results if r.status_code == 409)
    async with database.session() as session:
        assert await session.scalar(select(func.count()).where(opportunities.c.lead_id == lead_id)) == 1
    with pytest.raises(IntegrityError):  # the constraint holds even for a writer that skips the check
        async with database.session() as session, session.begin():
            row = (await session.execute(select(opportunities).where(opportunities.c.lead_id == lead_id))).mappings()
            values = dict(row.one()) | {"opportunity_id": "00000000-0000-0000-0000-000000000001"}
            await session.execute(opportunities.insert().values(**values))


async def test_round_robin_shares_concurrent_routes_evenly(qualifier: Any) -> None:  # noqa: F811
    client, database = qualifier
    lead_ids = [await capture(database, company=Company(country="US")) for _ in range(8)]
    write = bearer(token_with("leads:write"))
    responses = await asyncio.gather(
        *[
            client.post(f"/v1/leads/{lead_id}/stage", json={"stage": "prospect", "reason": "qualified"}, headers=write)
            for lead_id in lead_ids
        ]
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    owners = Counter(r.json()["owner"] for r in responses)
    assert owners == {"dave.americas": 4, "eva.americas": 4}


async def test_a_consumer_batch_and_a_rep_do_not_overwrite_each_other(qualifier: Any) -> None:  # noqa: F811
    """The consumer's batch preload and a rep's evidence both write the lead's facts back whole."""
    client, database = qualifier
    lead_id = await capture(database, mql=True)
    batch = LeadBatch(Qualifier(UnitOfWorkFactory(database), RULES))
    factory = UnitOfWorkFactory(database)
    entered = asyncio.Event()

    async def consume() -> None:
        event = new_event(
            LeadActivity(
                lead_id=uuid.UUID(lead_id),
                activity_type=ActivityType.WEBINAR_ATTENDED,
                occurred_at=datetime.now(UTC),
                minutes=45,
                source=Source(provider="zoom"),
            ),
            source="/test",
        )
        async with factory() as uow:
            await batch.load(uow, [event])
            entered.set()
            await asyncio.sleep(0.3)  # the rep posts while the batch holds what it read
            await on_activity(batch, uow, event)
            await batch.save(uow)
            await uow.commit()

    async def rep() -> httpx.Response:
        await entered.wait()
        response: httpx.Response = await client.post(
            f"/v1/leads/{lead_id}/evidence",
            json={"evidence": {"pain": "manual spreadsheets"}},
            headers=bearer(token_with("leads:write")),
        )
        return response

    _, response = await asyncio.gather(consume(), rep())
    assert response.status_code == 200
    async with database.session() as session:
        facts = await session.scalar(select(leads.c.facts).where(leads.c.lead_id == lead_id))
    assert facts["evidence.pain"] and facts["activity.webinar_minutes"] == 45, facts
