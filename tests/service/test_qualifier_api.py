import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from services.qualifier.bootstrap import load_rules
from services.qualifier.commands.qualification import Qualifier
from services.qualifier.handlers import subscription
from services.qualifier.persistence.tables import leads
from services.rules import DEFAULT_RULES
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import decode, new_event
from shared.events.models import Company, Contact, LeadActivity, LeadCaptured, LeadScored, LeadStageChanged, Source
from shared.events.vocabulary import ActivityType, Segment
from tests.service.conftest import running_service
from tests.support import bearer, token_named, token_with


@pytest.fixture
async def qualifier(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    async with running_service("qualifier", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield client, database
        await database.dispose()


RULES = load_rules(DEFAULT_RULES)


async def capture(
    database: Database,
    *,
    mql: bool = False,
    title: str | None = None,
    company: Company | None = None,
    answers: dict[str, str] | None = None,
) -> str:
    """Apply intake's and the scorer's events through the qualifier's own handlers."""
    lead_id = uuid.uuid4()
    handlers = subscription(Qualifier(UnitOfWorkFactory(database), RULES))
    uow_factory = UnitOfWorkFactory(database)
    captured = LeadCaptured(
        lead_id=lead_id,
        contact=Contact(email=f"{lead_id.hex[:8]}@acme.com", job_title=title),
        company=company or Company(),
        answers=answers or {},
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
    for payload in (captured, scored):
        async with uow_factory() as uow:
            await handlers.apply(uow, [new_event(payload, source="/test")])
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
    assert lead["history"][1]["rules_version"] == RULES.version
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


QUALIFIED_COMPANY = Company(name="Kraftwerk GmbH", industry="Manufacturing", size="201-500", country="DE")


async def test_evidence_makes_a_prospect_with_an_owner_then_an_opportunity(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database, mql=True, title="Head of Operations", company=QUALIFIED_COMPANY)
    lead = (await client.get(f"/v1/leads/{lead_id}", headers=bearer())).json()
    assert lead["stage"] == "mql"
    three_stage = next(f for f in lead["frameworks"] if f["framework"] == "three_stage")
    assert three_stage["stages"] == {"organisation": "pass", "opportunity": "unknown", "stakeholder": "pass"}

    # The audit trail names the token ("sam.rep"); a person's token cannot claim another name in x-actor.
    write = bearer(token_with("leads:write")) | {"x-actor": "the.ceo"}
    need = await client.post(
        f"/v1/leads/{lead_id}/evidence",
        headers=write,
        json={"evidence": {"need": "route 5k leads a month", "compatible_stack": True}, "note": "discovery call"},
    )
    assert need.status_code == 200, need.text
    prospect = need.json()
    assert prospect["stage"] == "prospect" and prospect["owner"] == "ana.emea" and prospect["team"] == "emea"
    step = prospect["history"][-1]
    assert (step["from_stage"], step["to_stage"], step["decided_by"]) == ("mql", "prospect", "sam.rep")
    assert {c["criterion"] for c in step["criteria"]} >= {"organisation.industry", "stakeholder.authority"}
    assert prospect["evidence"][0]["recorded_by"] == "sam.rep"

    pif = await client.post(
        f"/v1/leads/{lead_id}/evidence",
        headers=write,
        json={"evidence": {"pain": "reps call cold leads first", "product": "Growth", "budget": 40000}},
    )
    # Interest was already there (engagement 60 ≥ 50), so pain and fit complete PIF: an opportunity opens.
    assert pif.json()["stage"] == "opportunity"
    assert "pif: pain pass, interest pass, fit pass" in pif.json()["history"][-1]["reason"]
    types = await emitted(database)
    assert types.count("opportunity.opened.v1") == 1 and "lead.owner_changed.v1" in types
    async with database.session() as session:
        raw = (
            await session.execute(
                select(OUTBOX.c.payload).where(OUTBOX.c.event_type == "io.leadflow.opportunity.opened.v1")
            )
        ).scalar_one()
    opened = decode(raw.encode()).payload
    assert opened.amount == 40000 and opened.owner == "ana.emea"  # type: ignore[attr-defined]
    # One decision, one correlation id on everything it emitted: the first evidence routed the lead (owner
    # changed) and moved it to prospect; the second moved it to opportunity and opened the deal.
    async with database.session() as session:
        rows = (
            await session.execute(
                select(OUTBOX.c.event_type, OUTBOX.c.correlation_id)
                .where(OUTBOX.c.key == lead_id)
                .order_by(OUTBOX.c.id)
            )
        ).all()
    by_type: dict[str, list[str]] = {}
    for event_type, correlation in rows:
        by_type.setdefault(event_type.removeprefix("io.leadflow."), []).append(correlation)
    routed, to_prospect = by_type["lead.owner_changed.v1"][0], by_type["lead.stage_changed.v1"][-2]
    to_opportunity, deal = by_type["lead.stage_changed.v1"][-1], by_type["opportunity.opened.v1"][0]
    assert routed == to_prospect and to_opportunity == deal and routed != deal


async def test_hard_fail_disqualifies_with_reasons(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database, mql=True, title="Marketing Intern", company=QUALIFIED_COMPANY)
    lead = (await client.get(f"/v1/leads/{lead_id}", headers=bearer())).json()
    assert lead["stage"] == "disqualified"
    assert "student" in lead["history"][-1]["reason"]


async def test_override_is_audited_and_illegal_moves_refused(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database)
    # An integration token may say for whom it acts; the trail keeps both names.
    write = bearer(token_named("crm-sync")) | {"x-actor": "kim.manager"}
    moved = await client.post(
        f"/v1/leads/{lead_id}/stage", headers=write, json={"stage": "nurture", "reason": "asked us to call back in Q3"}
    )
    assert moved.status_code == 200 and moved.json()["stage"] == "nurture"
    step = moved.json()["history"][-1]
    assert step["decided_by"] == "kim.manager via crm-sync (override)" and "call back in Q3" in step["reason"]
    illegal = await client.post(
        f"/v1/leads/{lead_id}/stage", headers=write, json={"stage": "customer", "reason": "x" * 5}
    )
    assert illegal.status_code == 409 and "cannot move from nurture to customer" in illegal.json()["detail"]
    no_reason = await client.post(f"/v1/leads/{lead_id}/stage", headers=write, json={"stage": "lead"})
    assert no_reason.status_code == 422


async def test_removing_an_owner_reassigns_its_leads(qualifier: Any) -> None:
    client, database = qualifier
    write = bearer(token_with("leads:write"))
    lead_id = await capture(
        database,
        mql=True,
        title="CTO",
        company=QUALIFIED_COMPANY,
        answers={"use_case": "lead routing", "crm": "HubSpot"},
    )
    lead = (await client.get(f"/v1/leads/{lead_id}", headers=write | bearer())).json()
    assert lead["stage"] == "prospect"
    owner = lead["owner"]
    removed = await client.delete(f"/v1/owners/{owner}", headers=bearer())
    assert removed.status_code == 200 and removed.json()["reassigned"] >= 1
    after = (await client.get(f"/v1/leads/{lead_id}", headers=bearer())).json()
    assert after["owner"] not in (None, owner) and after["team"] == "emea"
    owners = {o["owner"]: o for o in (await client.get("/v1/owners", headers=bearer())).json()}
    assert owners[owner]["active"] is False and owners[after["owner"]]["load"] >= 1
    again = await client.delete(f"/v1/owners/{owner}", headers=bearer())
    assert again.status_code == 404
    forbidden = await client.delete("/v1/owners/ben.emea", headers=bearer(token_with("leads:read")))
    assert forbidden.status_code == 403


async def test_leads_list_by_stage(qualifier: Any) -> None:
    client, database = qualifier
    mql_id = await capture(database, mql=True)
    page = (await client.get("/v1/leads?stage=mql&limit=500", headers=bearer())).json()
    assert mql_id in {item["lead_id"] for item in page["items"]}
    assert all(item["stage"] == "mql" for item in page["items"])
    bad = await client.get("/v1/leads?stage=sleeping", headers=bearer())
    assert bad.status_code == 422


async def test_a_quiet_lead_goes_to_nurture_and_comes_back_with_new_activity(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database, mql=True)
    async with database.session() as session, session.begin():
        await session.execute(
            update(leads)
            .where(leads.c.lead_id == lead_id)
            .values(last_activity_at=datetime.now(UTC) - timedelta(days=45))
        )
    assert await Qualifier(UnitOfWorkFactory(database), RULES).sweep_stalled() >= 1
    nurtured = (await client.get(f"/v1/leads/{lead_id}", headers=bearer())).json()
    assert nurtured["stage"] == "nurture"
    assert "stalled 45 days" in nurtured["history"][-1]["reason"]
    assert "stakeholder.authority" in nurtured["history"][-1]["reason"]
    handlers = subscription(Qualifier(UnitOfWorkFactory(database), RULES))
    activity = LeadActivity(
        lead_id=uuid.UUID(lead_id),
        activity_type=ActivityType.WEBINAR_ATTENDED,
        occurred_at=datetime.now(UTC),
        minutes=40,
        source=Source(provider="zoom"),
    )
    async with UnitOfWorkFactory(database)() as uow:
        await handlers.apply(uow, [new_event(activity, source="/test")])
        await uow.commit()
    back = (await client.get(f"/v1/leads/{lead_id}", headers=bearer())).json()
    assert back["stage"] == "mql" and "re-engaged" in back["history"][-1]["reason"]


async def test_a_nul_character_in_a_reps_note_is_a_422_not_a_500(qualifier: Any) -> None:
    client, database = qualifier
    lead_id = await capture(database, mql=True, title="Head of Operations", company=QUALIFIED_COMPANY)
    response = await client.post(
        f"/v1/leads/{lead_id}/evidence",
        headers=bearer(token_with("leads:write")),
        json={"evidence": {"need": "routing"}, "note": "called\x00back"},
    )
    assert response.status_code == 422 and "NUL" in response.json()["detail"]


async def _arrive(database: Database, first: str, last: str, company: str, *, segment: Segment, provider: str) -> str:
    """A person's capture and score, applied by the qualifier's own handlers."""
    lead_id = uuid.uuid4()
    domain = company.partition(" ")[0].lower().replace("_", "-") + ".com"
    handlers = subscription(Qualifier(UnitOfWorkFactory(database), RULES))
    captured = LeadCaptured(
        lead_id=lead_id,
        contact=Contact(
            email=f"{first.lower()}.{lead_id.hex[:6]}@{domain}",
            first_name=first,
            last_name=last,
            phone="+44 20 7946 0000",
            job_title="Head of Sales",
        ),
        company=Company(name=company, country="United Kingdom"),
        source=Source(provider=provider, utm_campaign="q4-pipeline"),
        captured_at=datetime.now(UTC),
    )
    scored = LeadScored(
        lead_id=lead_id,
        fit=80,
        engagement=60,
        score=70,
        segment=segment,
        mql=False,
        rules_version="r1",
        scored_at=datetime.now(UTC),
        probability=0.42,
        model_version=1,
    )
    for payload in (captured, scored):
        async with UnitOfWorkFactory(database)() as uow:
            await handlers.apply(uow, [new_event(payload, source="/test")])
            await uow.commit()
    return str(lead_id)


async def test_leads_are_found_by_who_they_are_and_named_in_the_list(qualifier: Any) -> None:
    client, database = qualifier
    ada = await _arrive(database, "Ada", "Lovelace", "Analytical Engines", segment=Segment.HOT, provider="typeform")
    grace = await _arrive(database, "Grace", "Hopper", "Cobol_Works 100%", segment=Segment.WARM, provider="zoom")

    found = (await client.get("/v1/leads", params={"q": "lovel"}, headers=bearer())).json()["items"]
    assert [lead["lead_id"] for lead in found] == [ada]
    (lead,) = found
    assert (lead["name"], lead["company"], lead["job_title"]) == ("Ada Lovelace", "Analytical Engines", "Head of Sales")
    assert (lead["country"], lead["source"], lead["campaign"], lead["probability"]) == (
        "United Kingdom",
        "typeform",
        "q4-pipeline",
        0.42,
    )
    # A company, any case; by email; LIKE's wildcards typed by a rep match only themselves.
    assert [x["lead_id"] for x in (await client.get("/v1/leads?q=ANALYTICAL", headers=bearer())).json()["items"]] == [
        ada
    ]
    assert [x["lead_id"] for x in (await client.get("/v1/leads?q=grace.", headers=bearer())).json()["items"]] == [grace]
    percent = (await client.get("/v1/leads", params={"q": "100%"}, headers=bearer())).json()["items"]
    assert [x["lead_id"] for x in percent] == [grace]
    underscore = (await client.get("/v1/leads", params={"q": "co_ol"}, headers=bearer())).json()["items"]
    assert underscore == []  # "_" is not "any one character": "co_ol" is not "cobol"
    # Filters combine with the text.
    by_segment = (await client.get("/v1/leads", params={"segment": "warm"}, headers=bearer())).json()["items"]
    assert grace in [x["lead_id"] for x in by_segment] and ada not in [x["lead_id"] for x in by_segment]
    by_source = (await client.get("/v1/leads", params={"source": "zoom", "q": "hopper"}, headers=bearer())).json()
    assert [x["lead_id"] for x in by_source["items"]] == [grace]
    assert (await client.get("/v1/leads", params={"source": "zoom", "q": "ada"}, headers=bearer())).json()[
        "items"
    ] == []
    refused = await client.get("/v1/leads", params={"segment": "lukewarm"}, headers=bearer())
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"

    view = (await client.get(f"/v1/leads/{ada}", headers=bearer())).json()
    assert view["name"] == "Ada Lovelace" and view["phone"] == "+44 20 7946 0000" and view["opportunities"] == []
    # Her stage changes carry the campaign, for the forecast's funnel by campaign.
    async with database.session() as session:
        rows = (await session.execute(select(OUTBOX.c.payload).where(OUTBOX.c.key == ada))).scalars().all()
    changes = [decode(r.encode()).payload for r in rows]
    assert {c.campaign for c in changes if isinstance(c, LeadStageChanged)} == {"q4-pipeline"}
