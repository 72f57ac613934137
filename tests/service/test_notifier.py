"""Outbound webhooks against a real local receiver: signed with Standard Webhooks (checked by the reference
library), each event once, an endpoint's queue in order; a receiver down for a while gets everything after; a
slow one times out without holding back the others; a day of failures disables an endpoint until it is enabled
by hand; deliveries replay; chat channels get a sentence."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.notifier.commands.delivery import Deliverer
from services.notifier.handlers import subscription
from services.notifier.metrics import NotifierMetrics
from services.notifier.settings import NotifierSettings
from shared.db.database import Database
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import Event, new_event
from shared.events.models import (
    Company,
    Contact,
    EventPayload,
    LeadCaptured,
    LeadScored,
    OpportunityClosed,
    PersonErased,
    ScoreFactor,
    Source,
)
from shared.events.vocabulary import ForecastCategory, OpportunityStatus, Segment
from shared.metrics import Metrics
from tests.receiver import Receiver
from tests.service.conftest import running_service
from tests.support import bearer


class Clock:
    """Time the deliverer sees, moved by the test: backoff and a day of failures without waiting a day."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Notifier:
    client: httpx.AsyncClient
    database: Database
    deliverer: Deliverer
    clock: Clock

    async def apply(self, *payloads: EventPayload) -> list[Event[Any]]:
        events = [new_event(p, source="/test") for p in payloads]
        await self.redeliver(events)
        return events

    async def redeliver(self, events: list[Event[Any]]) -> None:
        async with UnitOfWorkFactory(self.database)() as uow:
            await subscription("http://console.test").apply(uow, events)
            await uow.commit()

    async def deliver(self) -> None:
        await self.deliverer.tick()
        await self.deliverer.drain()

    async def subscribe(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/subscriptions", json=body, headers=bearer())
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def state(self, subscription_id: str) -> dict[str, Any]:
        return dict((await self.client.get(f"/v1/subscriptions/{subscription_id}", headers=bearer())).json())

    async def log(self, subscription_id: str) -> list[dict[str, Any]]:
        found = await self.client.get(f"/v1/subscriptions/{subscription_id}/deliveries", headers=bearer())
        return list(found.json())


@pytest.fixture
async def notifier(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Notifier]:
    # The app's own delivery job is off (run_jobs): the test drives a deliverer whose clock it moves.
    async with running_service("notifier", database_url, kafka_bootstrap, run_jobs=False) as (_, client, s):
        assert isinstance(s, NotifierSettings)
        database = Database(s.database_url, s.database_schema)
        clock = Clock()
        settings = s.model_copy(update={"delivery_timeout_s": 0.5})
        deliverer = Deliverer(database, settings, NotifierMetrics(Metrics("notifier"), database, 10), clock=clock)
        yield Notifier(client, database, deliverer, clock)
        await deliverer.close()
        await database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().up()
    yield running
    running.down()


def captured(lead_id: uuid.UUID) -> LeadCaptured:
    return LeadCaptured(
        lead_id=lead_id,
        contact=Contact(email="ada@analytical.example", first_name="Ada", last_name="Lovelace", job_title="CTO"),
        company=Company(name="Analytical Engines"),
        source=Source(provider="typeform"),
        captured_at=datetime.now(UTC),
    )


def scored(lead_id: uuid.UUID, segment: Segment, previous: Segment | None, score: float = 80) -> LeadScored:
    return LeadScored(
        lead_id=lead_id,
        fit=score,
        engagement=score,
        score=score,
        segment=segment,
        previous_segment=previous,
        mql=score >= 55,
        factors=[ScoreFactor(kind="fit", name="seniority.executive", points=40, reason="job title 'CTO' <exec>")],
        rules_version="r1",
        scored_at=datetime.now(UTC),
    )


def closed(lead_id: uuid.UUID, won: bool) -> OpportunityClosed:
    now = datetime.now(UTC)
    return OpportunityClosed(
        lead_id=lead_id,
        opportunity_id=uuid.uuid4(),
        revision=2,
        name="Analytical Engines: 50 seats",
        amount=Decimal("48000"),
        currency="EUR",
        pipeline_stage="commit",
        probability=1.0 if won else 0.0,
        forecast_category=ForecastCategory.CLOSED if won else ForecastCategory.OMITTED,
        expected_close_date=date.today(),
        status=OpportunityStatus.WON if won else OpportunityStatus.LOST,
        opened_at=now,
        changed_at=now,
        closed_at=now,
        close_reason="chosen over the incumbent",
    )


async def test_a_lead_becoming_hot_reaches_the_crm_signed_named_and_once(
    notifier: Notifier, receiver: Receiver
) -> None:
    hot = await notifier.subscribe(url=receiver.url(), event_types=["lead.scored"], filters={"segment": "hot"})
    receiver.secrets["/hook"] = hot["secret"]
    assert hot["secret"].startswith("whsec_")
    lead = uuid.uuid4()
    became_hot = scored(lead, Segment.HOT, Segment.WARM)
    events = await notifier.apply(captured(lead), scored(lead, Segment.WARM, None, 40), became_hot)
    await notifier.apply(scored(lead, Segment.HOT, Segment.HOT, 85))  # rescored while hot: not news
    await notifier.redeliver(events)  # the broker delivers a batch again: nothing is queued twice
    await notifier.deliver()

    (got,) = receiver.received
    assert got.verified is True  # the Standard Webhooks reference library accepts the signature
    assert got.headers["webhook-id"] == f"msg_{events[2].id}"
    body = got.json()
    assert body["type"] == "lead.scored" and body["data"]["segment"] == "hot"
    assert body["data"]["lead"] == {
        "name": "Ada Lovelace",
        "email": "ada@analytical.example",
        "job_title": "CTO",
        "company": "Analytical Engines",
    }
    (entry,) = await notifier.log(hot["subscription_id"])
    assert entry["status"] == "delivered" and entry["attempts"] == 1 and entry["last_status"] == 200
    assert entry["latency_ms"] > 0 and entry["tries"][0]["status"] == 200
    assert (await notifier.state(hot["subscription_id"]))["pending"] == 0


async def test_a_receiver_down_for_a_while_gets_everything_in_order_afterwards(
    notifier: Notifier, receiver: Receiver
) -> None:
    sub = await notifier.subscribe(url=receiver.url(), event_types=["lead.scored"])
    receiver.down()
    leads = [uuid.uuid4() for _ in range(3)]
    await notifier.apply(*(scored(lead, Segment.HOT, None) for lead in leads))
    waits = []
    for _ in range(4):
        await notifier.deliver()
        state = await notifier.state(sub["subscription_id"])
        waits.append(datetime.fromisoformat(state["next_attempt_at"]) - notifier.clock.now)
        await notifier.deliver()  # not due yet: nothing is tried
        notifier.clock.advance(seconds=waits[-1].total_seconds() + 0.001)
    assert state["failures"] == 4 and state["pending"] == 3 and state["disabled_at"] is None
    # Exponential with jitter: each wait within [half, all] of 5 s, 10 s, 20 s, 40 s.
    for n, wait in enumerate(waits):
        assert 2.5 * 2**n <= wait.total_seconds() <= 5 * 2**n, waits
    receiver.up()
    await notifier.deliver()
    assert [b["data"]["lead_id"] for b in receiver.bodies()] == [str(lead) for lead in leads]  # in queue order
    state = await notifier.state(sub["subscription_id"])
    assert (state["failures"], state["failing_since"], state["pending"]) == (0, None, 0)
    first = (await notifier.log(sub["subscription_id"]))[-1]
    assert [t["status"] for t in first["tries"]] == [None, None, None, None, 200]
    assert "ConnectError" in first["tries"][0]["error"]


async def test_a_slow_receiver_times_out_and_holds_back_only_its_own_queue(
    notifier: Notifier, receiver: Receiver
) -> None:
    slow = Receiver(delay_s=1.5).up()
    try:
        sub_slow = await notifier.subscribe(url=slow.url(), event_types=["lead.scored"])
        sub_fast = await notifier.subscribe(url=receiver.url(), event_types=["lead.scored"])
        await notifier.apply(scored(uuid.uuid4(), Segment.HOT, None), scored(uuid.uuid4(), Segment.WARM, None))
        started = notifier.clock.now
        await notifier.deliver()
        assert len(receiver.received) == 2  # the fast endpoint got both while the slow one was timing out
        state = await notifier.state(sub_slow["subscription_id"])
        assert state["failures"] == 1 and state["pending"] == 2
        (oldest, _) = reversed(await notifier.log(sub_slow["subscription_id"]))
        assert oldest["tries"][0]["error"] == "no answer within 0.5 s" and oldest["tries"][0]["latency_ms"] >= 500
        assert (await notifier.state(sub_fast["subscription_id"]))["pending"] == 0
        slow.delay_s = 0
        notifier.clock.now = started + timedelta(minutes=1)
        await notifier.deliver()
        assert (await notifier.state(sub_slow["subscription_id"]))["pending"] == 0
    finally:
        slow.down()


async def test_a_day_of_failures_disables_an_endpoint_until_someone_enables_it(
    notifier: Notifier, receiver: Receiver
) -> None:
    sub = await notifier.subscribe(url=receiver.url(), event_types=["lead.scored"])
    receiver.status = 500
    await notifier.apply(scored(uuid.uuid4(), Segment.HOT, None))
    await notifier.deliver()
    notifier.clock.advance(hours=25)
    await notifier.deliver()
    state = await notifier.state(sub["subscription_id"])
    assert state["disabled_at"] is not None and "failing since" in state["disabled_reason"]
    await notifier.apply(scored(uuid.uuid4(), Segment.WARM, None))  # still queued while disabled: nothing is lost
    receiver.status = 200
    notifier.clock.advance(hours=1)
    await notifier.deliver()
    assert len(receiver.received) == 2  # the two failed attempts; a disabled endpoint is not tried
    enabled = await notifier.client.post(f"/v1/subscriptions/{sub['subscription_id']}/enable", headers=bearer())
    assert enabled.json()["disabled_at"] is None and enabled.json()["pending"] == 2
    await notifier.deliver()
    assert [r.headers["webhook-id"] for r in receiver.received[2:]] == [
        e["event_id"] and f"msg_{e['event_id']}" for e in reversed(await notifier.log(sub["subscription_id"]))
    ]
    gone = await notifier.subscribe(url=receiver.url("/gone"), event_types=["lead.scored"])
    receiver.status = 410
    await notifier.apply(scored(uuid.uuid4(), Segment.HOT, None))
    await notifier.deliver()
    assert (await notifier.state(gone["subscription_id"]))["disabled_reason"] == "the endpoint answered 410 Gone"


async def test_deliveries_replay_one_or_a_time_range(notifier: Notifier, receiver: Receiver) -> None:
    sub = await notifier.subscribe(url=receiver.url(), event_types=["lead.scored"])
    await notifier.apply(scored(uuid.uuid4(), Segment.HOT, None), scored(uuid.uuid4(), Segment.COLD, None))
    await notifier.deliver()
    _, oldest = await notifier.log(sub["subscription_id"])
    path = f"/v1/subscriptions/{sub['subscription_id']}/replay"
    one = await notifier.client.post(path, json={"delivery_id": oldest["delivery_id"]}, headers=bearer())
    assert one.json() == {"requeued": 1}
    await notifier.deliver()
    assert receiver.received[2].headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    window = {"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "to": datetime.now(UTC).isoformat()}
    assert (await notifier.client.post(path, json=window, headers=bearer())).json() == {"requeued": 2}
    await notifier.deliver()
    assert len(receiver.received) == 5
    assert (await notifier.client.post(path, json={}, headers=bearer())).status_code == 422


async def test_a_chat_channel_hears_of_deals_won_in_a_sentence(notifier: Notifier, receiver: Receiver) -> None:
    await notifier.subscribe(
        url=receiver.url("/slack"), event_types=["opportunity.closed"], filters={"status": "won"}, format="slack"
    )
    lead = uuid.uuid4()
    await notifier.apply(captured(lead), closed(lead, won=False), closed(lead, won=True))
    await notifier.deliver()
    assert receiver.bodies("/slack") == [
        {
            "text": "Opportunity *Analytical Engines: 50 seats* closed won, 48,000 EUR "
            f"(<http://console.test/leads/{lead}|*Ada Lovelace* (CTO, Analytical Engines)>): chosen over the incumbent"
        }
    ]


async def test_a_subscription_that_could_never_match_is_refused(notifier: Notifier) -> None:
    client = notifier.client
    cases = [
        ({"url": "http://x.test/h", "event_types": ["lead.sneezed"]}, "unknown event types"),
        ({"url": "http://x.test/h", "event_types": ["lead.scored"], "filters": {"stage": "mql"}}, "does not apply"),
        ({"url": "ftp://x.test/h", "event_types": ["lead.scored"]}, "https"),
        ({"url": "http://x.test/h", "event_types": ["lead.scored"], "secret": "whsec_c2hvcnQ="}, "16 bytes"),
    ]
    for body, says in cases:
        refused = await client.post("/v1/subscriptions", json=body, headers=bearer())
        assert refused.status_code == 422 and says in refused.json()["detail"], (body, refused.text)
    assert (await client.get(f"/v1/subscriptions/{uuid.uuid4()}", headers=bearer())).status_code == 404


async def test_erasing_a_person_removes_every_delivery_about_them(notifier: Notifier, receiver: Receiver) -> None:
    sub = await notifier.subscribe(url=receiver.url(), event_types=["lead.scored"])
    lead = uuid.uuid4()
    await notifier.apply(captured(lead), scored(lead, Segment.HOT, None))
    await notifier.deliver()
    await notifier.apply(scored(lead, Segment.WARM, Segment.HOT))  # queued, not yet sent
    await notifier.apply(PersonErased(lead_id=lead, erased_at=datetime.now(UTC), erased_by="dpo"))
    assert await notifier.log(sub["subscription_id"]) == []


async def test_subscriptions_are_managed_from_the_cli_too(notifier: Notifier, receiver: Receiver) -> None:
    from typer.testing import CliRunner

    from services.cli import app

    settings = notifier.database
    env = {"DATABASE_URL": settings.url, "LEADFLOW_DATABASE_SCHEMA": settings.schema or ""}
    runner = CliRunner()

    async def run(*args: str, ok: bool = True) -> str:
        # The CLI runs its own event loop, as it does from a shell: in a thread of its own here.
        result = await asyncio.to_thread(runner.invoke, app, ["subscriptions", *args], env=env)
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    added = await run("add", receiver.url(), "--event", "lead.stage_changed", "--filter", "stage=opportunity")
    subscription_id = next(line.split()[1] for line in added.splitlines() if line.startswith("subscription "))
    assert "secret whsec_" in added
    listed = await run("list")
    assert subscription_id in listed and '{"stage": "opportunity"}' in listed
    assert "key=value" in await run("add", receiver.url(), "--event", "lead.scored", "--filter", "x", ok=False)
    assert "0 deliveries queued again" in await run("replay", subscription_id, "--from", "2026-01-01T00:00:00")
    assert "removed" in await run("remove", subscription_id)
    assert (await notifier.client.get("/v1/subscriptions", headers=bearer())).json() == []
