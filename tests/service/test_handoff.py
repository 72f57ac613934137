"""The hand-off from marketing to sales through the qualifier's API on a real database: the owner routing chose
accepts or rejects (back to nurture, with the reason counted); another rep may not; a hand-off nobody accepts in
its SLA is breached and rerouted, or escalated."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.qualifier.bootstrap import load_rules
from services.qualifier.commands.handoff import Handoffs
from services.qualifier.commands.qualification import Qualifier
from services.qualifier.domain.rules import QualifierRules
from services.qualifier.handlers import subscription
from services.rules import DEFAULT_RULES
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import decode, new_event
from shared.events.models import Company, Contact, EventPayload, LeadActivity, LeadCaptured, LeadScored, Source
from shared.events.vocabulary import ActivityType, Segment
from tests.service.conftest import running_service
from tests.support import bearer, token_named

RULES = load_rules(DEFAULT_RULES)


@dataclass
class Desk:
    client: httpx.AsyncClient
    database: Database

    async def apply(self, *payloads: EventPayload, rules: QualifierRules = RULES) -> None:
        handlers = subscription(Qualifier(UnitOfWorkFactory(self.database), rules))
        for payload in payloads:
            async with UnitOfWorkFactory(self.database)() as uow:
                await handlers.apply(uow, [new_event(payload, source="/test")])
                await uow.commit()

    async def lead(self, lead_id: str) -> dict[str, Any]:
        return dict((await self.client.get(f"/v1/leads/{lead_id}", headers=bearer())).json())

    async def handoff_events(self, lead_id: str) -> list[dict[str, Any]]:
        async with self.database.session() as session:
            rows = (await session.execute(select(OUTBOX.c.payload).where(OUTBOX.c.key == lead_id))).scalars()
            events = [decode(r.encode()) for r in rows]
        return [e.payload.model_dump(mode="json") for e in events if e.envelope.type.endswith("handoff_changed.v1")]


@pytest.fixture
async def desk(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Desk]:
    async with running_service("qualifier", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield Desk(client, database)
        await database.dispose()


def qualified(lead_id: uuid.UUID) -> list[EventPayload]:
    """A VP at a German software company who stated a use case: qualified at once, routed to EMEA."""
    now = datetime.now(UTC)
    return [
        LeadCaptured(
            lead_id=lead_id,
            contact=Contact(email=f"vp.{lead_id.hex[:6]}@kraftwerk.de", first_name="Paul", job_title="VP Sales"),
            company=Company(name="Kraftwerk", industry="software", size="201-500", country="DE"),
            answers={"use_case": "route inbound leads"},
            source=Source(provider="typeform"),
            captured_at=now,
        ),
        LeadScored(
            lead_id=lead_id,
            fit=80,
            engagement=60,
            score=70,
            segment=Segment.HOT,
            mql=True,
            rules_version="r1",
            scored_at=now,
        ),
    ]


def as_rep(name: str) -> dict[str, str]:
    """An integration token acting for a named rep (the CRM the rep works in)."""
    return bearer(token_named("crm-sync")) | {"x-actor": name}


async def test_the_owner_accepts_and_nobody_else_may(desk: Desk) -> None:
    lead_id = uuid.uuid4()
    await desk.apply(*qualified(lead_id))
    lead = await desk.lead(str(lead_id))
    assert lead["stage"] == "prospect" and lead["team"] == "emea" and lead["handoff_status"] == "pending"
    # Routed on its capture, before its first score: the SLA is the hot segment's once the score says hot, four
    # working hours (so at most a weekend and a night later).
    due = datetime.fromisoformat(lead["handoff_due_at"])
    assert timedelta(hours=4) <= due - datetime.fromisoformat(lead["handoff_at"]) <= timedelta(days=3, hours=4)
    owner = lead["owner"]
    stranger = await desk.client.post(f"/v1/leads/{lead_id}/accept", headers=as_rep("someone.else"))
    assert stranger.status_code == 409 and f"handed to {owner}" in stranger.json()["detail"]
    accepted = await desk.client.post(f"/v1/leads/{lead_id}/accept", headers=as_rep(owner))
    assert accepted.status_code == 200 and accepted.json()["handoff_status"] == "accepted"
    again = await desk.client.post(f"/v1/leads/{lead_id}/accept", headers=as_rep(owner))
    assert again.status_code == 409  # nothing waits any more
    assigned, done = await desk.handoff_events(str(lead_id))
    assert (assigned["status"], assigned["owner"]) == ("assigned", owner)
    assert done["status"] == "accepted" and done["decided_by"] == f"{owner} via crm-sync" and done["waited_s"] >= 0


async def test_a_rejected_lead_goes_back_to_nurture_with_its_reason_and_stays_there(desk: Desk) -> None:
    lead_id = uuid.uuid4()
    await desk.apply(*qualified(lead_id))
    owner = (await desk.lead(str(lead_id)))["owner"]
    path = f"/v1/leads/{lead_id}/reject"
    unknown = await desk.client.post(path, json={"reason": "dont_like_them"}, headers=as_rep(owner))
    assert unknown.status_code == 422 and "no_budget" in unknown.json()["detail"]
    body = {"reason": "no_budget", "note": "frozen until Q3"}
    rejected = (await desk.client.post(path, json=body, headers=as_rep(owner))).json()
    assert (rejected["stage"], rejected["owner"], rejected["handoff_status"]) == ("nurture", None, "rejected")
    assert rejected["history"][-1]["reason"] == f"rejected by {owner}: no_budget (frozen until Q3)"
    # The scorer rescores it (the owner changed): not news, so it stays in nurture.
    again = qualified(lead_id)[1]
    await desk.apply(again)
    assert (await desk.lead(str(lead_id)))["stage"] == "nurture"
    # It does something new: marketing's again.
    later = datetime.now(UTC) + timedelta(seconds=1)
    await desk.apply(
        LeadActivity(
            lead_id=lead_id, activity_type=ActivityType.DEMO_REQUESTED, occurred_at=later, source=Source(provider="x")
        )
    )
    assert (await desk.lead(str(lead_id)))["stage"] != "nurture"
    metrics = (await desk.client.get("/metrics")).text
    assert 'leadflow_handoffs_total{reason="no_budget",status="rejected",team="emea"} 1.0' in metrics


async def test_a_late_hand_off_is_rerouted_or_escalated_as_the_rules_say(desk: Desk) -> None:
    lead_id = uuid.uuid4()
    await desk.apply(*qualified(lead_id))
    first = await desk.lead(str(lead_id))
    due = datetime.fromisoformat(first["handoff_due_at"])
    handoffs = Handoffs(UnitOfWorkFactory(desk.database), Qualifier(UnitOfWorkFactory(desk.database), RULES))
    assert await handoffs.sweep(now=due - timedelta(minutes=1)) == 0  # not late yet
    assert await handoffs.sweep(now=due + timedelta(minutes=1)) == 1
    rerouted = await desk.lead(str(lead_id))
    assert rerouted["owner"] not in (None, first["owner"]) and rerouted["team"] == "emea"
    assert rerouted["handoff_status"] == "pending"
    events = await desk.handoff_events(str(lead_id))
    assert [(e["status"], e["action"], e["owner"]) for e in events] == [
        ("assigned", None, first["owner"]),
        ("breached", "rerouted", first["owner"]),
        ("assigned", None, rerouted["owner"]),
    ]
    escalating = RULES.model_copy(
        update={
            "routing": RULES.routing.model_copy(
                update={
                    "handoff": RULES.routing.handoff.model_copy(
                        update={"on_breach": "escalate", "escalate_to": "sales.manager"}
                    )
                }
            )
        }
    )
    other = uuid.uuid4()
    await desk.apply(*qualified(other), rules=escalating)
    waiting = await desk.lead(str(other))
    late = datetime.fromisoformat(waiting["handoff_due_at"]) + timedelta(minutes=1)
    escalator = Handoffs(UnitOfWorkFactory(desk.database), Qualifier(UnitOfWorkFactory(desk.database), escalating))
    assert await escalator.sweep(now=late) >= 1
    escalated = await desk.lead(str(other))
    assert escalated["owner"] == waiting["owner"] and escalated["handoff_status"] == "breached"
    breach = (await desk.handoff_events(str(other)))[-1]
    assert (breach["action"], breach["escalated_to"]) == ("escalated", "sales.manager")
    # Escalated, the owner may still accept it.
    ok = await desk.client.post(f"/v1/leads/{other}/accept", headers=as_rep(waiting["owner"]))
    assert ok.status_code == 200 and ok.json()["handoff_status"] == "accepted"
