import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from services.intake.persistence.retention import intake_retention
from services.intake.persistence.tables import deliveries, leads, quarantine
from services.intake.settings import IntakeSettings
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.db.retention import prune
from shared.ids import lead_id_for
from tests.service.conftest import running_service
from tests.support import bearer, lead_payload, signed_webhook, token_with


@pytest.fixture
async def intake(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    async with running_service("intake", database_url, kafka_bootstrap, max_body_bytes=4096) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield client, database
        await database.dispose()


async def counts(database: Database) -> tuple[int, int, int]:
    async with database.session() as session:
        return (
            await session.scalar(select(func.count()).select_from(leads)) or 0,
            await session.scalar(select(func.count()).select_from(OUTBOX)) or 0,
            await session.scalar(select(func.count()).select_from(deliveries)) or 0,
        )


async def test_direct_capture_stores_lead_and_outbox_row(intake: Any) -> None:
    client, database = intake
    response = await client.post("/v1/leads", json=lead_payload("Ann@Acme-Industries.com"), headers=bearer())
    assert response.status_code == 202
    body = response.json()
    assert body["lead_id"] == str(lead_id_for("ann@acme-industries.com")) and body["duplicate"] is False
    async with database.session() as session:
        row = (await session.execute(select(OUTBOX))).mappings().one()
    assert row["event_id"] == body["event_id"] and row["topic"] == "leads.intake" and row["key"] == body["lead_id"]
    assert json.loads(row["payload"])["type"] == "io.leadflow.lead.captured.v1"


async def test_a_leads_contact_is_who_intake_last_heard_it_was(intake: Any) -> None:
    client, _ = intake
    first = lead_payload("ann@acme-industries.com", job_title="Engineer")
    lead_id = (await client.post("/v1/leads", json=first, headers=bearer())).json()["lead_id"]
    again = lead_payload("ann@acme-industries.com", phone="+1 555 0100")
    again.pop("job_title", None)
    assert (await client.post("/v1/leads", json=again, headers=bearer())).status_code == 202
    contact = (await client.get(f"/v1/leads/{lead_id}/contact", headers=bearer(token_with("leads:read")))).json()
    assert contact["email"] == "ann@acme-industries.com" and contact["submissions"] == 2
    assert (contact["job_title"], contact["phone"]) == ("Engineer", "+1 555 0100")  # a gap never erases
    missing = await client.get(f"/v1/leads/{uuid.uuid4()}/contact", headers=bearer())
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_signed_webhook_is_accepted_once_and_retry_gets_original(intake: Any) -> None:
    client, database = intake
    body, headers = signed_webhook(lead_payload())
    first = await client.post("/v1/webhooks/generic", content=body, headers=headers)
    retry = await client.post("/v1/webhooks/generic", content=body, headers=headers)
    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json() | {"duplicate": True}
    assert await counts(database) == (1, 1, 1)


async def test_same_person_from_two_deliveries_is_one_lead(intake: Any) -> None:
    client, database = intake
    for extra in ({"job_title": "Engineer"}, {"phone": "+1 555 0100"}):
        body, headers = signed_webhook(lead_payload("same.person@acme-industries.com", **extra))
        assert (await client.post("/v1/webhooks/generic", content=body, headers=headers)).status_code == 202
    leads_count, outbox_count, _ = await counts(database)
    assert (leads_count, outbox_count) == (1, 2)


def _tamper(headers: dict[str, str]) -> dict[str, str]:
    return headers | {"webhook-signature": "v1,AAAA"}


@pytest.mark.parametrize(
    ("case", "status", "detail"),
    [
        ("bad_signature", 401, "does not match"),
        ("stale", 401, "clock"),
        ("no_signature", 401, "missing"),
        ("wrong_content_type", 415, "application/json"),
        ("too_large", 413, "limit"),
        ("malformed_json", 400, "not valid JSON"),
        ("unknown_provider", 404, "unknown provider"),
    ],
)
async def test_bad_webhooks_are_refused_with_problem_and_store_nothing(
    intake: Any, case: str, status: int, detail: str
) -> None:
    client, database = intake
    data = lead_payload()
    path = "/v1/webhooks/generic"
    body, headers = signed_webhook(data)
    if case == "bad_signature":
        headers = _tamper(headers)
    elif case == "stale":
        body, headers = signed_webhook(data, timestamp=int(time.time()) - 3600)
    elif case == "no_signature":
        headers = {"content-type": "application/json"}
    elif case == "wrong_content_type":
        headers = headers | {"content-type": "text/plain"}
    elif case == "too_large":
        body, headers = signed_webhook(lead_payload(notes="x" * 5000))
    elif case == "malformed_json":
        from services.intake.domain.standard_webhooks import sign
        from tests.support import GENERIC_SECRET

        body = b'{"data": {"email": '
        headers = headers | {
            "webhook-signature": sign(GENERIC_SECRET, headers["webhook-id"], headers["webhook-timestamp"], body)
        }
    elif case == "unknown_provider":
        path = "/v1/webhooks/myspace"
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]
    assert await counts(database) == (0, 0, 0)


async def test_direct_capture_validation_is_problem_json(intake: Any) -> None:
    client, database = intake
    response = await client.post("/v1/leads", json={"email": "not-an-email"}, headers=bearer())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "email" in response.json()["detail"]
    assert await counts(database) == (0, 0, 0)


async def test_idempotency_key_deduplicates_direct_capture(intake: Any) -> None:
    client, database = intake
    headers = bearer(token_with("leads:write")) | {"idempotency-key": "import-42"}
    lead = lead_payload()
    first = await client.post("/v1/leads", json=lead, headers=headers)
    second = await client.post("/v1/leads", json=lead, headers=headers)
    assert second.json() == first.json() | {"duplicate": True}
    assert (await counts(database))[1] == 1


async def test_an_idempotency_key_is_the_callers_and_bound_to_its_request(intake: Any) -> None:
    client, database = intake
    mine = bearer(token_with("leads:write")) | {"idempotency-key": "row-7"}
    first = await client.post("/v1/leads", json=lead_payload("ann@acme-industries.com"), headers=mine)
    assert first.status_code == 202
    # The same key with another lead is not a retry: a 409, and nothing stored.
    other = await client.post("/v1/leads", json=lead_payload("bob@acme-industries.com"), headers=mine)
    assert other.status_code == 409 and "another request" in other.json()["detail"]
    # Another caller's same key is that caller's own request.
    theirs = await client.post(
        "/v1/leads", json=lead_payload("cy@acme-industries.com"), headers=bearer() | {"idempotency-key": "row-7"}
    )
    assert theirs.status_code == 202 and theirs.json()["duplicate"] is False
    assert (await counts(database))[1] == 2


async def test_health_readiness_and_metrics_are_open(intake: Any) -> None:
    client, _ = intake
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    for _ in range(100):  # the broker connection is made in the background
        if ready.status_code == 200:
            break
        await asyncio.sleep(0.1)
        ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": True, "schema": True}  # intake consumes nothing
    await client.post("/v1/webhooks/nobody", content=b"{}", headers={"content-type": "application/json"})
    metrics = (await client.get("/metrics")).text
    assert 'leadflow_webhook_requests_total{provider="unknown",status="404"} 1.0' in metrics
    # Served by the webhook lane, still counted under the documented route's template.
    assert 'leadflow_http_requests_total{method="POST",route="/v1/webhooks/{provider}",status="404"} 1.0' in metrics
    assert "leadflow_outbox_backlog_events" in metrics


async def test_concurrent_deliveries_commit_together_and_each_exactly_once(intake: Any) -> None:
    """Group commit: retries inside one group, and the same person twice in it, still mean one of each."""
    client, database = intake
    retried = signed_webhook(lead_payload("retried.person@acme-industries.com"))
    twice = [signed_webhook(lead_payload("same.person@acme-industries.com", job_title=t)) for t in ("CTO", "CEO")]
    distinct = [signed_webhook(lead_payload()) for _ in range(20)]
    deliveries = [retried] * 5 + twice + distinct
    responses = await asyncio.gather(
        *[client.post("/v1/webhooks/generic", content=body, headers=headers) for body, headers in deliveries]
    )
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses if r.status_code != 202]
    retries = [r.json() for r in responses[:5]]
    assert sum(not r["duplicate"] for r in retries) == 1
    assert len({r["event_id"] for r in retries}) == 1
    assert await counts(database) == (22, 23, 23)  # 22 people; 23 distinct deliveries, one event each
    metrics = (await client.get("/metrics")).text
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("leadflow_webhook_group"))
    # At least one transaction held more than one delivery: the group path itself was exercised.
    single = float(values['leadflow_webhook_group_size_bucket{le="1.0"}'])
    assert float(values["leadflow_webhook_group_size_count"]) > single


async def test_rate_limits_answer_429_with_retry_after(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service(
        "intake", database_url, kafka_bootstrap, rate_limit_per_token=1, rate_limit_per_provider=1
    ) as (_, client, _s):
        token = bearer(token_with("leads:write"))
        statuses = [(await client.post("/v1/leads", json=lead_payload(), headers=token)).status_code for _ in range(3)]
        assert statuses[:2] == [202, 202] and statuses[2] == 429  # a burst of two, then the limit
        limited = await client.post("/v1/leads", json=lead_payload(), headers=token)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"] == "application/problem+json"
        other = await client.post("/v1/leads", json=lead_payload(), headers=bearer())  # another token has its own
        assert other.status_code == 202
        hooks = []
        for _ in range(3):
            body, headers = signed_webhook(lead_payload())
            hooks.append((await client.post("/v1/webhooks/generic", content=body, headers=headers)).status_code)
        assert hooks == [202, 202, 429]


async def test_groups_in_flight_together_never_lose_an_update_of_one_lead(intake: Any) -> None:
    """More deliveries than one group holds, all for one known person: the second group waits for the first's
    lock on the lead and merges into its result, so every submission is counted."""
    client, database = intake
    email = "busy.person@acme-industries.com"
    first = await client.post(
        "/v1/webhooks/generic", content=(d := signed_webhook(lead_payload(email)))[0], headers=d[1]
    )
    assert first.status_code == 202
    deliveries = [signed_webhook(lead_payload(email, job_title=f"Title {i}")) for i in range(150)]
    responses = await asyncio.gather(
        *[client.post("/v1/webhooks/generic", content=body, headers=headers) for body, headers in deliveries]
    )
    assert [r.status_code for r in responses] == [202] * 150
    async with database.session() as session:
        submissions = await session.scalar(
            select(leads.c.submissions).where(leads.c.lead_id == str(lead_id_for(email)))
        )
    assert submissions == 151
    assert await counts(database) == (1, 151, 151)
    metrics = (await client.get("/metrics")).text
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("leadflow_webhook_group"))
    assert float(values["leadflow_webhook_group_size_count"]) >= 3  # the first alone, then at least two groups


async def test_an_authentic_delivery_that_cannot_become_a_lead_waits_in_quarantine(intake: Any) -> None:
    """Refused, the provider would retry and then disable the webhook; kept, ops see it and can replay it."""
    client, database = intake
    data = {k: v for k, v in lead_payload().items() if k != "email"}
    body, headers = signed_webhook(data)
    first = await client.post("/v1/webhooks/generic", content=body, headers=headers)
    assert first.status_code == 202, first.text
    answer = first.json()
    assert answer["quarantined"] is True and answer["lead_id"] is None and "data.email" in answer["reason"]
    retry = await client.post("/v1/webhooks/generic", content=body, headers=headers)
    assert retry.json()["quarantine_id"] == answer["quarantine_id"]
    assert await counts(database) == (0, 0, 0)  # no lead, no event, no delivery record: nothing half-done

    assert (await client.get("/v1/quarantine", headers=bearer(token_with("leads:read")))).status_code == 403
    held = (await client.get("/v1/quarantine", headers=bearer())).json()
    assert [(h["provider"], h["kind"], h["deliveries"], h["status"]) for h in held] == [
        ("generic", "invalid_field", 2, "held")
    ]
    detail = (await client.get(f"/v1/quarantine/{held[0]['id']}", headers=bearer())).json()
    assert '"first_name": "Pat"' in detail["body"] and detail["headers"]["webhook-id"] == headers["webhook-id"]
    assert "webhook-signature" not in detail["headers"]
    metrics = (await client.get("/metrics")).text
    assert 'leadflow_webhooks_quarantined_total{kind="invalid_field",provider="generic"} 2.0' in metrics
    # Still not a lead when replayed as it is: it stays held, with the reason.
    replayed = (await client.post("/v1/quarantine/replay", json={}, headers=bearer())).json()
    assert [(r["status"], "data.email" in r["reason"]) for r in replayed] == [("held", True)]


async def test_strangers_failing_verification_cannot_spend_a_providers_allowance(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_service(
        "intake", database_url, kafka_bootstrap, rate_limit_per_provider=1, rate_limit_failed_signatures=0.01
    ) as (app, genuine, _s):
        stranger = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)), base_url="http://test"
        )
        junk = [signed_webhook(lead_payload(), secret="whsec_" + "A" * 32) for _ in range(40)]
        statuses = [(await stranger.post("/v1/webhooks/generic", content=b, headers=h)).status_code for b, h in junk]
        # 30 failures are allowed in a burst, then that address waits; the provider's bucket was never charged.
        assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}
        body, headers = signed_webhook(lead_payload())
        assert (await genuine.post("/v1/webhooks/generic", content=body, headers=headers)).status_code == 202
        await stranger.aclose()


async def test_a_field_longer_than_its_column_is_a_422_naming_it(intake: Any) -> None:
    client, _ = intake
    response = await client.post("/v1/leads", json=lead_payload(company="C" * 301), headers=bearer())
    assert response.status_code == 422 and "company" in response.text


async def test_every_route_bounds_the_body_before_checking_the_token(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("intake", database_url, kafka_bootstrap, max_body_bytes=4096) as (_, client, _s):
        big = json.dumps(lead_payload() | {"answers": {"notes": "x" * 8000}}).encode()
        declared = await client.post("/v1/leads", content=big, headers={"content-type": "application/json"})
        assert declared.status_code == 413 and declared.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it streams
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        streamed = await client.post("/v1/leads", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and "limit of 4096" in streamed.json()["detail"]
        # Within the bound the route itself answers: without a token, 401.
        small = await client.post("/v1/leads", json=lead_payload())
        assert small.status_code == 401


async def test_a_failed_statement_is_logged_without_its_values(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from structlog.testing import capture_logs

    from shared.http.problems import problem_for

    database = Database(database_url, "public")
    try:
        async with database.session() as session:
            with pytest.raises(DBAPIError) as caught:
                await session.execute(text("SELECT 1 / 0 WHERE CAST(:who AS text) <> ''"), {"who": "Ana Lima"})
        async with database.session() as session:
            with pytest.raises(DBAPIError) as quoted:
                await session.execute(text("SELECT CAST(:who AS integer)"), {"who": "Priya Raman, VP Sales"})
    finally:
        await database.dispose()
    assert "Ana Lima" not in str(caught.value)  # hide_parameters: no [parameters: ...] in the text
    assert "Priya Raman" in str(quoted.value)  # the driver's own text quotes the value...
    with capture_logs() as logs:
        assert problem_for(quoted.value, "/v1/leads").status_code == 500
    assert "Priya Raman" not in str(logs) and "SQLSTATE" in logs[0]["error"]  # ...the log does not


async def test_a_nul_character_is_dropped_not_a_500(intake: Any) -> None:
    client, database = intake
    response = await client.post("/v1/leads", json=lead_payload(company="Acme\x00 Industries"), headers=bearer())
    assert response.status_code == 202, response.text
    async with database.session() as session:
        company = await session.scalar(select(leads.c.company).where(leads.c.lead_id == response.json()["lead_id"]))
    assert company == "Acme Industries"


async def test_raw_quarantined_bodies_are_deleted_when_their_time_is_up(
    database_url: str, kafka_bootstrap: str
) -> None:
    """A quarantined body is a person's raw answers: replayed ones go with the delivery window, unresolved ones
    after LEADFLOW_QUARANTINE_RETENTION_DAYS, fresh ones stay."""
    async with running_service(
        "intake", database_url, kafka_bootstrap, delivery_retention_days=30, quarantine_retention_days=60
    ) as (_, client, settings):
        database = Database(settings.database_url, settings.database_schema)
        for first_name in ("Old", "Replayed", "Fresh"):
            data = {k: v for k, v in lead_payload(first_name=first_name).items() if k != "email"}
            body, headers = signed_webhook(data)
            assert (await client.post("/v1/webhooks/generic", content=body, headers=headers)).json()["quarantined"]
        now = datetime.now(UTC)
        async with database.session() as session, session.begin():
            ids = (await session.execute(select(quarantine.c.id).order_by(quarantine.c.id))).scalars().all()
            await session.execute(
                update(quarantine).where(quarantine.c.id == ids[0]).values(last_seen_at=now - timedelta(days=61))
            )
            await session.execute(
                update(quarantine)
                .where(quarantine.c.id == ids[1])
                .values(status="replayed", replayed_at=now - timedelta(days=31), last_seen_at=now - timedelta(days=31))
            )
        assert isinstance(settings, IntakeSettings)
        removed = await prune(database, intake_retention(settings))
        assert removed["quarantine"] == 2
        left = (await client.get("/v1/quarantine", headers=bearer())).json()
        assert [h["id"] for h in left] == [ids[2]]
        await database.dispose()
