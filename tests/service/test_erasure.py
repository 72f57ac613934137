"""Erasing a person through intake's API: every lead of theirs, merged ones too, and the raw deliveries that name
them go; the events about them are forgotten and person.erased announces it (the pipeline test follows it)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.intake.persistence.tables import deliveries, identity_links, leads, quarantine
from shared.db.database import Database
from shared.db.erasure import forget, still_erased
from shared.db.metadata import ERASED_LEADS, OUTBOX
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import new_event
from shared.events.models import Contact, LeadActivity, LeadCaptured, Source
from shared.events.vocabulary import ActivityType
from tests.service.conftest import running_service
from tests.service.test_identity import WRITE, capture, intake  # noqa: F401 - the fixture is shared
from tests.support import bearer, lead_payload, signed_webhook, token_named
from tests.unit.test_published_examples import PUBLISHED
from tests.webhook_senders import settings_overrides, signed


async def count(database: Any, table: Any, *where: Any) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def test_a_person_is_erased_with_every_lead_and_raw_delivery(intake: Any) -> None:  # noqa: F811
    client, database = intake
    ann = await capture(client, "ann.erase@acme-industries.com", first_name="Ann", phone="+1 555 0199")
    home = await capture(client, "ann.erase@fastmail.com")
    assert (await client.post(f"/v1/leads/{home}/merge", json={"into": ann}, headers=WRITE)).status_code == 200
    # An authentic delivery that could not become a lead, but names her: raw personal data in quarantine.
    no_name = {k: v for k, v in lead_payload("ann.erase@acme-industries.com").items() if k != "first_name"}
    body, headers = signed_webhook(no_name | {"email": "ANN.ERASE@acme-industries.com", "phone": {"bad": 1}})
    assert (await client.post("/v1/webhooks/generic", content=body, headers=headers)).json()["quarantined"]
    other = await capture(client, "bob.stays@acme-industries.com")

    crm = bearer(token_named("crm-sync"))
    assert (await client.delete("/v1/people/ann.erase@acme-industries.com", headers=crm)).status_code == 403
    erased = await client.delete("/v1/people/Ann.Erase@Acme-Industries.com", headers=bearer())
    assert erased.status_code == 200, erased.text
    assert sorted(erased.json()["lead_ids"]) == sorted([ann, home]) and erased.json()["raw_rows"] == 1

    for table in (leads, deliveries):
        assert await count(database, table, table.c.lead_id.in_([ann, home])) == 0
    assert await count(database, identity_links, identity_links.c.lead_id.in_([ann, home])) == 0
    assert await count(database, quarantine) == 0
    async with database.session() as session:
        rows = (await session.execute(select(OUTBOX.c.key, OUTBOX.c.event_type, OUTBOX.c.payload))).all()
    about_her = [(key, kind) for key, kind, _ in rows if key in (ann, home)]
    # The captures and the merge are forgotten (a replay cannot send them again); only the erasures remain.
    assert sorted(about_her) == sorted([(ann, "io.leadflow.person.erased.v1"), (home, "io.leadflow.person.erased.v1")])
    assert not [p for _, _, p in rows if "ann.erase" in p.lower() or "555 0199" in p]
    assert json.loads(next(p for k, _, p in rows if k == ann))["data"]["erased_by"] == "admin"
    assert await count(database, ERASED_LEADS) == 2
    assert await count(database, leads, leads.c.lead_id == other) == 1  # nobody else

    again = await client.delete("/v1/people/ann.erase@acme-industries.com", headers=bearer())
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"
    # She may come back: a new submission is a new lead, as for anyone.
    assert await capture(client, "ann.erase@acme-industries.com") == ann


async def test_what_arrives_from_before_an_erasure_is_ignored_and_a_new_capture_is_kept(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_service("scorer", database_url, kafka_bootstrap) as (_, _client, settings):
        database = Database(settings.database_url, settings.database_schema)
        lead = uuid.uuid4()
        before = [new_event(captured(lead), source="/test"), new_event(activity(lead), source="/test")]
        erased_at = datetime.now(UTC)
        async with UnitOfWork(database) as uow:
            await forget(uow, [str(lead)], erased_at)
            await uow.commit()
        came_back = new_event(captured(lead), source="/test")
        later = new_event(activity(lead), source="/test")
        someone_else = new_event(captured(uuid.uuid4()), source="/test")
        async with UnitOfWork(database) as uow:
            ignored = await still_erased(uow.session, [*before, someone_else])
            assert ignored == {e.id for e in before}
            # The person submits again after the erasure: that capture and what follows it are applied.
            assert await still_erased(uow.session, [*before, came_back, later]) == {e.id for e in before}
            await uow.commit()
        assert await count(database, ERASED_LEADS) == 0
        await database.dispose()


def captured(lead: uuid.UUID) -> LeadCaptured:
    return LeadCaptured(
        lead_id=lead,
        contact=Contact(email="x@example.org"),
        source=Source(provider="test"),
        captured_at=datetime.now(UTC),
    )


def activity(lead: uuid.UUID) -> LeadActivity:
    return LeadActivity(
        lead_id=lead,
        activity_type=ActivityType.PAGE_VIEW,
        occurred_at=datetime.now(UTC),
        source=Source(provider="test"),
    )


async def test_a_person_who_came_through_a_providers_published_example_is_erased(
    database_url: str, kafka_bootstrap: str
) -> None:
    """Typeform's own example delivery (tests/fixtures/webhooks/published/SOURCES.md), signed as Typeform signs:
    Laura's lead, her delivery record and every event naming her go."""
    payload = json.loads((PUBLISHED / "typeform_example_payload.json").read_text())
    async with running_service("intake", database_url, kafka_bootstrap, **settings_overrides()) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        body, headers, _ = signed("typeform", payload, url="http://test/v1/webhooks/typeform")
        accepted = await client.post("/v1/webhooks/typeform", content=body, headers=headers)
        assert accepted.status_code == 202 and accepted.json()["lead_id"], accepted.text
        laura = accepted.json()["lead_id"]
        erased = await client.delete("/v1/people/laura@example.com", headers=bearer())
        assert erased.status_code == 200 and erased.json()["lead_ids"] == [laura]
        for table in (leads, deliveries):
            assert await count(database, table, table.c.lead_id == laura) == 0
        async with database.session() as session:
            payloads = (await session.execute(select(OUTBOX.c.payload))).scalars().all()
        assert payloads and not [p for p in payloads if "laura" in p.lower() or "London" in p]
        await database.dispose()
