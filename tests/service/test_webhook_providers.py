"""Every provider's real payload, signed as the provider signs it, becomes the right lead exactly once."""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Header
from sqlalchemy import func, select

from services.embedded.broker import free_port
from services.intake.commands.enrichment import Enricher, GraphLeadFetcher, HubSpotContactFetcher
from services.intake.commands.quarantine import Quarantine
from services.intake.domain.mapping import FieldMapping
from services.intake.persistence.tables import pending_enrichments, webinar_joins
from services.rules import DEFAULT_RULES
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import Event, decode
from shared.events.models import LeadCaptured
from shared.metrics import Metrics
from shared.rules import load_rules_section
from tests.service.conftest import running_service
from tests.support import lead_payload, signed_webhook
from tests.unit.test_hubspot_signatures import DOCS_V1_BODY
from tests.webhook_senders import FACEBOOK_VERIFY_TOKEN, SECRETS, fixture, settings_overrides, signed

URL = "http://test/v1/webhooks/{}"


@pytest.fixture
async def intake(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    # No periodic jobs: the tests drive the lead fetch themselves, against a Graph API of their own.
    overrides = settings_overrides() | {"run_jobs": False}
    async with running_service("intake", database_url, kafka_bootstrap, **overrides) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield client, database
        await database.dispose()


def held(database: Database) -> Quarantine:
    """The quarantine the intake service keeps, on this database."""
    return Quarantine(UnitOfWorkFactory(database), Metrics("test"))


async def events(database: Database) -> list[Event]:
    async with database.session() as session:
        rows = (await session.execute(select(OUTBOX.c.payload).order_by(OUTBOX.c.id))).scalars().all()
    return [decode(r.encode()) for r in rows]


async def post(client: httpx.AsyncClient, provider: str, payload: Any, **kwargs: Any) -> httpx.Response:
    body, headers, query = signed(provider, payload, url=URL.format(provider), **kwargs)
    return await client.post(f"/v1/webhooks/{provider}" + (f"?{query}" if query else ""), content=body, headers=headers)


CASES = [
    (
        "typeform",
        "typeform",
        "priya.raman@northwind-logistics.com",
        {
            "job_title": "VP Revenue Operations",
            "company": "Northwind Logistics",
            "size": "201-500",
            "via": "demo_requested",
            "utm_source": "linkedin",
            "consent": True,
            "answer": ("which_crm_do_you_use", "HubSpot"),
        },
    ),
    (
        "hubspot",
        "hubspot",
        "m.okafor@brightpath-health.org",
        {
            "job_title": "Chief Information Officer",
            "company": "BrightPath Health",
            "size": "1000-5000",
            "country": "GB",
            "phone": "+44 20 7946 0321",
            "answer": ("message", "We need to qualify leads from three regions consistently."),
        },
    ),
    (
        "zoom",
        "zoom_registration",
        "lena.vogel@kraftwerk-maschinen.de",
        {
            "job_title": "Head of Marketing",
            "company": "Kraftwerk Maschinen GmbH",
            "via": "webinar_registered",
            "country": "DE",
            "size": "251-500",
            "answer": ("what_do_you_want_to_learn", "How to stop sales ignoring our MQLs"),
        },
    ),
    (
        "calendly",
        "calendly",
        "ana.lopez@finch-insurance.com",
        {
            "job_title": "Director of Sales Operations",
            "company": "Finch Insurance",
            "via": "demo_requested",
            "first_name": "Ana",
            "utm_campaign": "pricing-page",
        },
    ),
    (
        "tally",
        "tally",
        "sofia.berg@nordic-saas.se",
        {"job_title": "CTO", "size": "51-200", "via": "content_downloaded", "first_name": "Sofia", "country": "SE"},
    ),
    (
        "webflow",
        "webflow",
        "olivia.chen@cobalt-security.com",
        {"job_title": "VP Engineering", "company": "Cobalt Security", "first_name": "Olivia"},
    ),
]


@pytest.mark.parametrize(("provider", "name", "email", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_provider_payload_becomes_the_right_lead_once(
    intake: Any, provider: str, name: str, email: str, expected: dict[str, Any]
) -> None:
    client, database = intake
    payload = fixture(name)
    first = await post(client, provider, payload)
    assert first.status_code == 202, first.text
    retry = await post(client, provider, payload)
    assert retry.json() == first.json() | {"duplicate": True}
    captured = await events(database)
    assert len(captured) == 1
    lead = captured[0].payload
    assert isinstance(lead, LeadCaptured)
    assert lead.contact.email == email
    checks = {
        "job_title": lead.contact.job_title,
        "company": lead.company.name,
        "size": lead.company.size,
        "country": lead.company.country,
        "phone": lead.contact.phone,
        "via": lead.via.value,
        "first_name": lead.contact.first_name,
        "utm_source": lead.source.utm_source,
        "utm_campaign": lead.source.utm_campaign,
        "consent": lead.consent,
    }
    for key, value in expected.items():
        if key == "answer":
            assert lead.answers.get(value[0]) == value[1], lead.answers
        else:
            assert checks[key] == value, (key, checks[key])
    assert lead.source.provider == provider


@pytest.mark.parametrize("provider", ["typeform", "hubspot", "zoom", "calendly", "facebook", "tally", "webflow"])
async def test_a_signature_made_with_another_secret_is_refused(intake: Any, provider: str) -> None:
    client, database = intake
    body, headers, _ = signed(provider, {"x": 1}, url=URL.format(provider), secret="not-the-secret")
    response = await client.post(f"/v1/webhooks/{provider}", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await events(database) == []


@pytest.mark.parametrize("provider", ["hubspot", "zoom", "calendly", "webflow"])
async def test_a_stale_timestamp_is_refused(intake: Any, provider: str) -> None:
    client, _database = intake
    response = await post(client, provider, {"x": 1}, now=time.time() - 3600)
    assert response.status_code == 401 and "clock" in response.json()["detail"]


async def test_a_provider_without_a_secret_is_unavailable_not_open(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("intake", database_url, kafka_bootstrap) as (_, client, _s):
        body, headers, _ = signed("tally", fixture("tally"))
        response = await client.post("/v1/webhooks/tally", content=body, headers=headers)
    assert response.status_code == 503 and "LEADFLOW_WEBHOOK_SECRET_TALLY" in response.json()["detail"]


async def test_zoom_validation_attendance_and_minutes(intake: Any) -> None:
    client, database = intake
    validation = await post(client, "zoom", fixture("zoom_validation"))
    assert validation.status_code == 200
    expected = hmac.new(b"zm-secret-token-b71c", b"qgg8vlvZRS6UYooatFL8Aw", "sha256").hexdigest()
    assert validation.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert (await post(client, "zoom", fixture("zoom_registration"))).status_code == 202
    joined = await post(client, "zoom", fixture("zoom_joined"))
    assert joined.status_code == 202 and joined.json()["lead_id"] is None
    left = await post(client, "zoom", fixture("zoom_left"))
    assert left.status_code == 202
    kinds = [(e.envelope.type, getattr(e.payload, "minutes", None)) for e in await events(database)]
    assert kinds == [("io.leadflow.lead.captured.v1", None), ("io.leadflow.lead.activity.v1", 45.0)]


async def test_jotform_multipart_with_url_token(intake: Any) -> None:
    client, database = intake
    payload = {"raw": fixture("jotform_raw")}
    first = await post(client, "jotform", payload)
    assert first.status_code == 202, first.text
    assert (await post(client, "jotform", payload)).json()["duplicate"] is True
    lead = (await events(database))[0].payload
    assert isinstance(lead, LeadCaptured)
    assert lead.contact.email == "kenji.sato@orbitretail.jp" and lead.contact.first_name == "Kenji"
    assert lead.contact.job_title == "Marketing Manager" and lead.company.country == "JP"
    body, headers, _ = signed("jotform", payload)
    wrong = await client.post("/v1/webhooks/jotform?token=guess", content=body, headers=headers)
    assert wrong.status_code == 401
    as_json = await client.post("/v1/webhooks/jotform?token=x", json={}, headers={})
    assert as_json.status_code == 415


class FakeGraph:
    """A local stand-in for Meta's Graph API: serves lead field_data, or fails on request."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.fail = False
        self.calls: list[str] = []

        @self.app.get("/v21.0/{leadgen_id}")
        def lead(
            leadgen_id: str, access_token: str = "", appsecret_proof: str = "", authorization: str = Header("")
        ) -> Any:
            # The token comes in the header, never in the URL; the proof is HMAC-SHA256(app secret, token).
            token = authorization.removeprefix("Bearer ")
            proof = hmac.new(SECRETS["facebook"].encode(), token.encode(), hashlib.sha256).hexdigest()
            assert not access_token and appsecret_proof == proof
            self.calls.append(f"{leadgen_id}:{token}")
            if self.fail or leadgen_id != "444444444444":
                from fastapi.responses import JSONResponse

                return JSONResponse({"error": {"message": "unavailable"}}, status_code=503)
            return fixture("facebook_lead")


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    """`app` on a local port for the length of the block."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def graph() -> Iterator[tuple[FakeGraph, str]]:
    fake = FakeGraph()
    with serving(fake.app) as port:
        yield fake, f"http://127.0.0.1:{port}/v21.0"


async def test_facebook_handshake_queue_and_enrichment(intake: Any, graph: tuple[FakeGraph, str]) -> None:
    client, database = intake
    fake, base = graph
    ok = await client.get(
        "/v1/webhooks/facebook",
        params={"hub.mode": "subscribe", "hub.verify_token": FACEBOOK_VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    refused = await client.get(
        "/v1/webhooks/facebook", params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}
    )
    assert refused.status_code == 403

    accepted = await post(client, "facebook", fixture("facebook"))
    assert accepted.status_code == 202 and accepted.json()["pending"] == 1 and accepted.json()["lead_id"] is None
    assert (await post(client, "facebook", fixture("facebook"))).json()["duplicate"] is True

    mapping, _ = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)
    async with httpx.AsyncClient() as http:
        enricher = Enricher(
            UnitOfWorkFactory(database),
            "facebook",
            GraphLeadFetcher(base, "page-token", http, SECRETS["facebook"]),
            mapping,
            held(database),
        )
        fake.fail = True
        assert await enricher.run_once() == 0
        async with database.session() as session:
            row = (await session.execute(select(pending_enrichments))).mappings().one()
        assert row["attempts"] == 1 and "503" in row["last_error"] and row["done_at"] is None
        async with database.session() as session, session.begin():
            await session.execute(pending_enrichments.update().values(next_attempt_at=row["received_at"]))
        fake.fail = False
        assert await enricher.run_once() == 1
        assert await enricher.run_once() == 0
    assert fake.calls[-1] == "444444444444:page-token"
    captured = [e.payload for e in await events(database)]
    assert len(captured) == 1
    lead = captured[0]
    assert isinstance(lead, LeadCaptured)
    assert lead.contact.email == "tomas.novak@lumen-analytics.io" and lead.contact.first_name == "Tomas"
    assert lead.company.name == "Lumen Analytics" and lead.contact.job_title == "Director of Data"
    assert lead.source.form_id == "222222222222"
    assert lead.answers == {"what_is_your_biggest_challenge": "Too many junk leads from ads"}


class FakeHubSpot:
    """A local stand-in for HubSpot's CRM API: GET /crm/v3/objects/contacts/{id} answered in the documented shape
    (id, properties by internal name, createdAt, updatedAt, archived); the values are this test's own."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.calls: list[tuple[str, str, str]] = []

        @self.app.get("/crm/v3/objects/contacts/{contact_id}")
        def contact(contact_id: str, properties: str = "", authorization: str = Header("")) -> Any:
            self.calls.append((contact_id, authorization, properties))
            return {
                "id": contact_id,
                "properties": {
                    "email": "dana.whitfield@corvid-freight.com",
                    "firstname": "Dana",
                    "lastname": "Whitfield",
                    "jobtitle": "Head of Operations",
                    "company": "Corvid Freight",
                    "numemployees": "201-500",
                    "country": "United Kingdom",
                    "hs_object_id": contact_id,
                    "createdate": "2026-11-30T09:15:00.000Z",
                },
                "createdAt": "2026-11-30T09:15:00.000Z",
                "updatedAt": "2026-11-30T09:16:00.000Z",
                "archived": False,
            }


@pytest.fixture
def hubspot_api() -> Iterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot()
    with serving(fake.app) as port:
        yield fake, f"http://127.0.0.1:{port}"


async def test_hubspot_object_events_fetch_the_contact_and_capture_it(
    intake: Any, hubspot_api: tuple[FakeHubSpot, str]
) -> None:
    """The object event is the one HubSpot's v1 validation page shows; it carries only the contact's id."""
    client, database = intake
    fake, base = hubspot_api
    secret = settings_overrides()["webhook_secret_hubspot"]
    headers = {
        "content-type": "application/json",
        "x-hubspot-signature-version": "v1",
        "x-hubspot-signature": hashlib.sha256(secret.encode() + DOCS_V1_BODY).hexdigest(),
    }
    accepted = await client.post("/v1/webhooks/hubspot", content=DOCS_V1_BODY, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["pending"] == 1 and accepted.json()["lead_id"] is None
    mapping, _ = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)
    async with httpx.AsyncClient() as http:
        fetcher = HubSpotContactFetcher(base, "pat-na1-test", http)
        enricher = Enricher(UnitOfWorkFactory(database), "hubspot", fetcher, mapping, held(database))
        assert await enricher.run_once() == 1
    contact_id, authorization, asked = fake.calls[0]
    assert contact_id == "123" and authorization == "Bearer pat-na1-test" and "jobtitle" in asked.split(",")
    lead = next(e.payload for e in await events(database) if isinstance(e.payload, LeadCaptured))
    assert lead.contact.email == "dana.whitfield@corvid-freight.com" and lead.contact.first_name == "Dana"
    assert lead.contact.job_title == "Head of Operations" and lead.company.name == "Corvid Freight"
    assert lead.source.provider == "hubspot"


async def test_a_signed_body_nested_a_thousand_levels_is_a_400_not_a_500(intake: Any) -> None:
    client, _ = intake
    body = b'{"event_id": "e-deep", "event_type": "form_response", "x": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001
    signature = base64.b64encode(hmac.new(SECRETS["typeform"].encode(), body, hashlib.sha256).digest()).decode()
    headers = {"content-type": "application/json", "typeform-signature": f"sha256={signature}"}
    response = await client.post("/v1/webhooks/typeform", content=body, headers=headers)
    assert response.status_code == 400 and "nests deeper than 64" in response.json()["detail"]


async def test_ids_sent_as_json_numbers_are_read_as_ids(intake: Any) -> None:
    client, database = intake
    payload = fixture("typeform")
    payload["event_id"] = 1712345678901
    payload["form_response"]["form_id"] = 987654
    response = await post(client, "typeform", payload)
    assert response.status_code == 202, response.text
    lead = next(e.payload for e in await events(database) if isinstance(e.payload, LeadCaptured))
    assert lead.source.form_id == "987654"
    assert (await post(client, "typeform", payload)).json()["duplicate"] is True


async def test_a_lead_fetch_that_keeps_failing_goes_to_quarantine_and_comes_back(
    intake: Any, graph: tuple[FakeGraph, str]
) -> None:
    client, database = intake
    fake, base = graph
    assert (await post(client, "facebook", fixture("facebook"))).status_code == 202
    mapping, _ = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)
    quarantine = held(database)
    async with httpx.AsyncClient() as http:
        fetcher = GraphLeadFetcher(base, "page-token", http, SECRETS["facebook"])
        enricher = Enricher(UnitOfWorkFactory(database), "facebook", fetcher, mapping, quarantine, max_attempts=2)
        fake.fail = True
        for _ in range(2):
            assert await enricher.run_once() == 0
            async with database.session() as session, session.begin():
                await session.execute(pending_enrichments.update().values(next_attempt_at=datetime.now(UTC)))
        assert await enricher.run_once() == 0  # given up: nothing due any more
        waiting = await quarantine.listed()
        assert [(h.provider, h.kind) for h in waiting] == [("fetch:facebook", "fetch_failed")]
        assert "gave up after 2 attempts: 503" in waiting[0].reason and "page-token" not in waiting[0].reason
        fake.fail = False
        outcome = await quarantine.replay(None, {})
        assert [o.status for o in outcome] == ["replayed"]
        assert await enricher.run_once() == 1
    lead = next(e.payload for e in await events(database) if isinstance(e.payload, LeadCaptured))
    assert lead.contact.email == "tomas.novak@lumen-analytics.io"


async def test_a_value_longer_than_its_column_is_quarantined_by_name_not_a_500(intake: Any) -> None:
    client, _ = intake
    payload = fixture("typeform")
    payload["event_id"] = "01JELONGCOMPANYNAME000001"
    company = next(a for a in payload["form_response"]["answers"] if a.get("text") == "Northwind Logistics")
    company["text"] = "Northwind Logistics " * 16  # 320 characters; the columns keep 300
    answered = await post(client, "typeform", payload)
    assert answered.status_code == 202 and answered.json()["quarantined"] is True
    assert "company is 319 characters; at most 300" in answered.json()["reason"]


async def test_a_delivery_id_longer_than_its_column_is_still_one_delivery(intake: Any) -> None:
    client, _ = intake
    payload = fixture("typeform")
    payload["event_id"] = "evt-" + "x" * 400  # a sender's id has no bound; the deliveries table keeps 200
    first, retry = await post(client, "typeform", payload), await post(client, "typeform", payload)
    assert first.status_code == retry.status_code == 202
    assert retry.json()["duplicate"] is True and retry.json()["lead_id"] == first.json()["lead_id"]


async def test_two_replicas_racing_on_zooms_published_sequence_make_one_lead_and_one_attendance(
    database_url: str, kafka_bootstrap: str
) -> None:
    """Zoom's own examples (registration, participant joined, participant left: one person, 66 minutes apart),
    each delivered three times to each of two intake replicas at once, among other leads' deliveries so groups
    form: one lead, one join, one attendance of 66 minutes, and every sender answered."""
    overrides = settings_overrides() | {"run_jobs": False, "database_schema": f"intake_{uuid.uuid4().hex[:8]}"}
    async with (
        running_service("intake", database_url, kafka_bootstrap, **overrides) as (_, first, settings),
        running_service("intake", database_url, kafka_bootstrap, **overrides) as (_, second, _s),
    ):
        database = Database(settings.database_url, settings.database_schema)
        try:
            for name in (
                "zoom_webinar_registration_created",
                "zoom_meeting_participant_joined",
                "zoom_meeting_participant_left",
            ):
                payload = fixture(f"published/{name}")
                others = [signed_webhook(lead_payload()) for _ in range(10)]
                responses = await asyncio.gather(
                    *[post(replica, "zoom", payload) for replica in (first, second) for _ in range(3)],
                    *[
                        replica.post("/v1/webhooks/generic", content=body, headers=headers)
                        for replica, (body, headers) in zip([first, second] * 5, others, strict=True)
                    ],
                )
                assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
                zoom = [r.json() for r in responses[:6]]
                assert sum(not answer["duplicate"] for answer in zoom) == 1, (name, zoom)
                assert len({answer["event_id"] for answer in zoom}) == 1
            jill = [e for e in await events(database) if getattr(e.payload, "source", None) is not None]
            jill = [e for e in jill if e.payload.source.provider == "zoom"]  # type: ignore[attr-defined]
            kinds = [(e.envelope.type, getattr(e.payload, "minutes", None)) for e in jill]
            assert kinds == [("io.leadflow.lead.captured.v1", None), ("io.leadflow.lead.activity.v1", 66.0)]
            async with database.session() as session:
                joins = (await session.execute(select(func.count()).select_from(webinar_joins))).scalar_one()
            assert joins == 1
        finally:
            await database.dispose()
