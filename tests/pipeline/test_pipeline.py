"""All the services as real processes on a real broker and PostgreSQL, driven through their HTTP APIs."""

import asyncio
import os
import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.embedded.dev import EmbeddedPipeline
from shared.ids import lead_id_for
from tests.pipeline.driving import assert_each_lead_once, get_json, post_webhook, scalar, url
from tests.support import ADMIN_TOKEN, GENERIC_SECRET, bearer, lead_payload, signed_webhook, wait_until


def test_one_lead_is_scored_staged_and_its_won_deal_forecast(pipeline: EmbeddedPipeline) -> None:
    lead = lead_payload(job_title="Chief Operating Officer", activity="demo_requested", phone="+1 555 0101")
    accepted = post_webhook(pipeline, lead)
    lead_id = accepted["lead_id"]
    assert lead_id == str(lead_id_for(lead["email"]))

    score = wait_until(lambda: get_json(f"{url(pipeline, 'scorer')}/v1/scores/{lead_id}"), what="score")
    assert score["segment"] == "hot" and score["mql"] is True

    def at_mql() -> Any:
        found = get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}")
        return found if found and found["stage"] == "mql" else None

    staged = wait_until(at_mql, what="mql stage")
    assert [h["to_stage"] for h in staged["history"]] == ["lead", "mql"]

    opened = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/opportunities",
        headers=bearer(),
        timeout=10,
        json={
            "lead_id": lead_id,
            "name": "Pilot",
            "amount": "12500.50",
            "expected_close_date": (date.today() + timedelta(days=10)).isoformat(),
        },
    )
    assert opened.status_code == 201, opened.text
    closed = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/opportunities/{opened.json()['opportunity_id']}/close",
        headers=bearer(),
        json={"won": True, "reason": "signed"},
        timeout=10,
    )
    assert closed.status_code == 200, closed.text

    def won_this_month() -> Decimal | None:
        forecast = get_json(f"{url(pipeline, 'forecast')}/v1/forecast?horizon=1")
        line = forecast["lines"][0] if forecast and forecast["lines"] else None
        won = Decimal(line["closed_won"]) if line else Decimal(0)
        return won if won >= Decimal("12500.50") else None

    assert wait_until(won_this_month, what="closed won in forecast") >= Decimal("12500.50")
    final = get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}")
    assert final["stage"] == "customer"


def test_the_same_delivery_twice_yields_one_lead(pipeline: EmbeddedPipeline, module_database_url: str) -> None:
    lead = lead_payload()
    first = post_webhook(pipeline, lead, webhook_id="msg_retry_test")
    second = post_webhook(pipeline, lead, webhook_id="msg_retry_test")
    assert second == first | {"duplicate": True}
    lead_id = first["lead_id"]
    score = wait_until(lambda: get_json(f"{url(pipeline, 'scorer')}/v1/scores/{lead_id}"), what="score")
    assert score["activity_count"] == 1
    staged = wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), what="lead")
    assert [h["to_stage"] for h in staged["history"]].count("lead") == 1
    assert scalar(module_database_url, "intake", f"SELECT count(*) FROM leads WHERE lead_id = '{lead_id}'") == 1
    assert scalar(module_database_url, "intake", f"SELECT count(*) FROM outbox WHERE key = '{lead_id}'") == 1


@pytest.mark.faults
def test_consumers_killed_mid_stream_lose_nothing_and_double_nothing(
    pipeline: EmbeddedPipeline, module_database_url: str
) -> None:
    total = 2000
    emails = [f"stream.{i}.{os.getpid()}@stream-test-{i % 7}.com" for i in range(total)]
    expected = {str(lead_id_for(e)) for e in emails}
    sent = 0
    failures: list[str] = []

    def send_all() -> None:
        nonlocal sent
        with httpx.Client(timeout=10) as client:
            for email in emails:
                body, headers = signed_webhook(lead_payload(email))
                response = client.post(f"{url(pipeline, 'intake')}/v1/webhooks/generic", content=body, headers=headers)
                if response.status_code != 202:
                    failures.append(response.text)
                sent += 1

    sender = threading.Thread(target=send_all)
    sender.start()
    kills = (("scorer", 0.15, 0.3), ("qualifier", 0.35, 0.5), ("forecast", 0.55, 0.7))
    for name, kill_at, restart_at in ((n, int(total * a), int(total * b)) for n, a, b in kills):
        wait_until(lambda: sent >= kill_at, what=f"{kill_at} leads sent")  # noqa: B023 - used at once
        process = pipeline.processes[name]
        process.kill()  # SIGKILL: no shutdown hook runs, uncommitted offsets are lost
        wait_until(lambda: sent >= restart_at, what=f"{restart_at} leads sent")  # noqa: B023
        process.start()
        process.wait_ready()
    sender.join(timeout=120)
    assert not failures, failures[:3]

    assert_each_lead_once(module_database_url, emails, timeout_s=120)
    ids = ", ".join(f"'{i}'" for i in expected)
    # And the qualifier applied every lead.scored, none twice.
    wait_until(
        lambda: (
            scalar(
                module_database_url,
                "qualifier",
                f"SELECT count(DISTINCT event_id) FROM inbox WHERE consumer = 'qualifier' AND event_id "
                f"IN (SELECT event_id FROM scorer.outbox WHERE key IN ({ids}))",
            )
            == total
            or None
        ),
        timeout_s=120,
        what="every lead.scored applied by the qualifier",
    )
    assert (
        scalar(
            module_database_url,
            "qualifier",
            f"SELECT max(c) FROM (SELECT count(*) AS c FROM transitions WHERE lead_id IN ({ids}) "
            f"GROUP BY lead_id, from_stage, to_stage) t",
        )
        == 1
    )


def test_a_qualified_lead_becomes_prospect_then_opportunity_and_reaches_the_forecast(
    pipeline: EmbeddedPipeline,
) -> None:
    lead = lead_payload(
        job_title="VP Operations",
        company="Nordlicht Logistik",
        company_size="201-500",
        industry="Logistics",
        country="DE",
        activity="demo_requested",
        answers={"use_case": "route inbound leads", "crm": "HubSpot"},
    )
    lead_id = post_webhook(pipeline, lead)["lead_id"]

    def at(stage: str) -> Any:
        found = get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}")
        return found if found and found["stage"] == stage else None

    prospect = wait_until(lambda: at("prospect"), what="prospect")
    assert prospect["owner"] == "ana.emea" or prospect["team"] == "emea"
    assert [h["to_stage"] for h in prospect["history"]][-1] == "prospect"
    evidence = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}/evidence",
        headers=bearer() | {"x-actor": "sam.rep"},
        json={"evidence": {"pain": "slow follow-up", "product": "Growth", "budget": 60000}},
        timeout=10,
    )
    assert evidence.status_code == 200, evidence.text
    assert evidence.json()["stage"] == "opportunity"

    def forecast_pipeline() -> Decimal | None:
        forecast = get_json(f"{url(pipeline, 'forecast')}/v1/forecast?horizon=4")
        total = sum((Decimal(line["pipeline"]) for line in forecast["lines"]), Decimal(0)) if forecast else Decimal(0)
        return total if total >= 60000 else None

    assert wait_until(forecast_pipeline, what="the automatic opportunity in the forecast") >= 60000


def test_logs_hold_no_email_phone_or_secret(pipeline: EmbeddedPipeline) -> None:
    """A lead of its own goes through every service first (and those of the other tests, when they ran)."""
    lead = lead_payload("logs.check@acme-industries.com", phone="+1 555 0199")
    lead_id = post_webhook(pipeline, lead)["lead_id"]
    wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), what="the lead at the qualifier")
    wait_until(lambda: get_json(f"{url(pipeline, 'scorer')}/v1/scores/{lead_id}"), what="the lead's score")
    text = "\n".join(p.log_file.read_text(errors="replace") for p in pipeline.processes.values())
    assert "consumer.started" in text and "broker.connected" in text  # the logs are there
    assert "@acme-industries.com" not in text and "@stream-test-" not in text
    assert "+1 555" not in text
    assert ADMIN_TOKEN not in text and GENERIC_SECRET.removeprefix("whsec_") not in text


def test_garbage_on_every_topic_is_dead_lettered_by_each_consumer_and_they_go_on(pipeline: EmbeddedPipeline) -> None:
    from typer.testing import CliRunner

    from services.cli import app
    from services.contracts import consumers as consumed
    from shared.events.asyncapi import received
    from shared.events.topics import ALL_TOPICS

    bootstrap = pipeline.base_env["KAFKA_BOOTSTRAP_SERVERS"]
    # Who consumes what, as the handler tables declare it (and the AsyncAPI document says): each declared
    # consumer of a topic must dead-letter its garbage, so a table cannot claim a subscription the running
    # services do not have.
    consumers = {topic.name: list(received(topic, consumed())) for topic in ALL_TOPICS}
    assert all(consumers.values())

    async def produce() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for topic in consumers:
                await producer.send_and_wait(
                    topic,
                    key=b"garbage",
                    value=b'{"specversion": "1.0", "type": 7}',
                    headers=[("ce_id", f"garbage-{topic}".encode())],
                )
        finally:
            await producer.stop()

    asyncio.run(produce())

    def listed(group: str) -> str | None:
        result = CliRunner().invoke(app, ["dlq", "list", "--group", group], env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap})
        return (
            result.output
            if all(f"garbage-{t}" in result.output for t, gs in consumers.items() if group in gs)
            else None
        )

    for group in ("scorer", "qualifier", "forecast"):
        output = wait_until(lambda: listed(group), timeout_s=60, interval_s=1, what=f"{group}'s dead letters")  # noqa: B023
        assert "EventDecodeError" in output
    # ... and every consumer goes on: a lead sent now is still scored and staged.
    lead_id = post_webhook(pipeline, lead_payload())["lead_id"]
    wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), what="a lead after the garbage")
