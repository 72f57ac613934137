"""Identity through intake's API: mailbox spellings, a source's id joined to an address, merge and unmerge."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.ids import lead_id_for, lead_id_for_external
from tests.service.conftest import running_service
from tests.service.test_imports import finished, upload
from tests.support import bearer, lead_payload, token_named, token_with

WRITE, READ = bearer(token_with("leads:write")), bearer(token_with("leads:read"))


@pytest.fixture
async def intake(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    async with running_service("intake", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield client, database
        await database.dispose()


async def published(database: Database, topic: str) -> list[dict[str, Any]]:
    async with database.session() as session:
        rows = (await session.execute(select(OUTBOX).where(OUTBOX.c.topic == topic).order_by(OUTBOX.c.id))).mappings()
        return [json.loads(row["payload"]) | {"key": row["key"]} for row in rows]


async def capture(client: httpx.AsyncClient, email: str, **fields: Any) -> str:
    response = await client.post("/v1/leads", json=lead_payload(email) | fields, headers=bearer())
    assert response.status_code == 202, response.text
    return str(response.json()["lead_id"])


async def test_spellings_of_one_gmail_mailbox_are_one_lead(intake: Any) -> None:
    client, _ = intake
    first = await capture(client, "Jane.Doe+webinar@gmail.com")
    second = await capture(client, "janedoe@googlemail.com")
    assert first == second == str(lead_id_for("janedoe@gmail.com"))


async def test_a_lead_imported_by_a_sources_id_joins_the_persons_later_address(intake: Any) -> None:
    client, database = intake
    by_id = "source: crm\nidentity: {external_id: Id}\nfields: {first_name: First}\n"
    both = "source: crm\nidentity: {email: Email, external_id: Id}\nfields: {job_title: Title}\n"
    job = await finished(client, (await upload(client, "Id,First\nC-42,Kim\n", by_id)).json()["import_id"])
    assert job["accepted"] == 1
    known_by_id = str(lead_id_for_external("crm", "C-42"))
    job = await finished(
        client, (await upload(client, "Id,Email,Title\nC-42,kim@northwind.com,CFO\n", both)).json()["import_id"]
    )
    assert job["accepted"] == 1
    # The address now reaches the lead the import knew by id; so does a form the person fills in later.
    assert await capture(client, "kim@northwind.com") == known_by_id
    keys = {e["key"] for e in await published(database, "leads.intake")}
    assert keys == {known_by_id}
    assert await published(database, "leads.identity") == []  # a join, not a merge: nothing to undo


async def test_two_existing_leads_shown_to_be_one_person_are_merged(intake: Any) -> None:
    client, database = intake
    by_id = "source: crm\nidentity: {external_id: Id}\nfields: {first_name: First}\n"
    both = "source: crm\nidentity: {email: Email, external_id: Id}\n"
    await finished(client, (await upload(client, "Id,First\nC-7,Lee\n", by_id)).json()["import_id"])
    by_email = await capture(client, "lee@globex.com")
    await finished(client, (await upload(client, "Id,Email\nC-7,lee@globex.com\n", both)).json()["import_id"])
    merged = await published(database, "leads.identity")
    assert [(m["type"], m["key"], m["data"]["into"]) for m in merged] == [
        ("io.leadflow.lead.merged.v1", str(lead_id_for_external("crm", "C-7")), by_email)
    ]


async def test_merge_then_unmerge_by_hand(intake: Any) -> None:
    client, database = intake
    ann = await capture(client, "ann@acme-industries.com")
    ann_home = await capture(client, "ann.smith@fastmail.com")

    # The ledger names the token's owner; a person's token cannot claim to be someone else.
    claimed = WRITE | {"x-actor": "the.ceo"}
    response = await client.post(
        f"/v1/leads/{ann_home}/merge", json={"into": ann, "reason": "same person"}, headers=claimed
    )
    assert response.status_code == 200, response.text
    merge = response.json()
    assert (merge["lead_id"], merge["into"], merge["carried"]) == (ann_home, ann, [])
    # What arrives for the merged address from now on lands on the lead that stayed.
    assert await capture(client, "ann.smith+news@fastmail.com") == ann
    identity = (await client.get(f"/v1/leads/{ann_home}/identity", headers=READ)).json()
    assert identity["merged_into"] == ann and identity["merges"][0]["reason"] == "same person"
    assert identity["merges"][0]["merged_by"] == "sam.rep"

    again = await client.post(f"/v1/leads/{ann_home}/merge", json={"into": ann}, headers=WRITE)
    assert again.status_code == 409 and "already merged" in again.json()["detail"]

    # An integration token acts for people leadflow does not know: it may say for whom.
    crm = bearer(token_named("crm-sync")) | {"x-actor": "kim.ops"}
    undone = await client.post(f"/v1/leads/{ann_home}/unmerge", headers=crm)
    assert undone.status_code == 200, undone.text
    history = (await client.get(f"/v1/leads/{ann_home}/identity", headers=READ)).json()["merges"]
    assert history[0]["unmerged_by"] == "kim.ops via crm-sync"
    assert await capture(client, "ann.smith@fastmail.com") == ann_home
    events = await published(database, "leads.identity")
    assert [(e["type"], e["key"]) for e in events] == [
        ("io.leadflow.lead.merged.v1", ann_home),
        ("io.leadflow.lead.unmerged.v1", ann_home),
    ]
    assert events[1]["data"]["from_lead"] == ann
    assert (await client.post(f"/v1/leads/{ann_home}/unmerge", headers=WRITE)).status_code == 409


async def test_a_chain_of_merges_keeps_every_merged_lead_pointing_at_one_that_stays(intake: Any) -> None:
    client, _ = intake
    a, b, c = [await capture(client, f"{name}@initech.com") for name in ("a", "b", "c")]
    assert (await client.post(f"/v1/leads/{a}/merge", json={"into": b}, headers=WRITE)).status_code == 200
    second = await client.post(f"/v1/leads/{b}/merge", json={"into": c}, headers=WRITE)
    assert second.status_code == 200 and second.json()["carried"] == [a]
    assert await capture(client, "a@initech.com") == c
    into_merged = await client.post(f"/v1/leads/{c}/merge", json={"into": a}, headers=WRITE)
    assert into_merged.status_code == 409 and "merge into that lead instead" in into_merged.json()["detail"]
    await client.post(f"/v1/leads/{b}/unmerge", headers=WRITE)
    assert await capture(client, "a@initech.com") == b  # a follows b back out


async def test_merge_refusals_are_problems(intake: Any) -> None:
    client, _ = intake
    ann = await capture(client, "ann@acme-industries.com")
    unknown = str(lead_id_for("nobody@nowhere.com"))
    missing = await client.post(f"/v1/leads/{unknown}/merge", json={"into": ann}, headers=WRITE)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    itself = await client.post(f"/v1/leads/{ann}/merge", json={"into": ann}, headers=WRITE)
    assert itself.status_code == 409
    assert (await client.post(f"/v1/leads/{ann}/merge", json={"into": ann}, headers=READ)).status_code == 403
