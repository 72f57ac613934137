"""What every service's lifespan does to its process, beyond the tasks it starts."""

import asyncio
import gc

import httpx

from services.embedded.broker import free_port
from tests.service.conftest import running_service
from tests.support import bearer, eventually, lead_payload


async def test_a_stopped_service_leaves_nothing_frozen(database_url: str, kafka_bootstrap: str) -> None:
    """A running service freezes what start-up built (shared.runtime); a stopped one gives it back to the
    collector, so a process that runs services in turn (these tests, an embedding) does not keep them all."""
    async with running_service("scorer", database_url, kafka_bootstrap):
        pass
    assert gc.get_freeze_count() == 0


async def test_production_serves_no_api_documents_and_guards_metrics(database_url: str, kafka_bootstrap: str) -> None:
    token = "metrics-scrape-token-0123456789"
    async with running_service(
        "forecast", database_url, kafka_bootstrap, environment="production", metrics_token=token
    ) as (_, client, _s):
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"authorization": f"Bearer {token}"})).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_readiness_follows_the_role_and_liveness_the_loops(database_url: str) -> None:
    """While the broker is away, intake keeps accepting into its outbox, so it stays ready (in the Service's
    endpoints); a consumer is not ready, and neither is alive-but-stuck: waiting for the broker is a turn."""
    away = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with running_service("intake", database_url, away) as (_, intake, _s):
        ready = await eventually(lambda: _ready(intake), what="intake ready without the broker")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "schema": True}
        accepted = await intake.post("/v1/leads", json=lead_payload("away@acme-industries.com"), headers=bearer())
        assert accepted.status_code == 202
    async with running_service("scorer", database_url, away, run_consumers=True, liveness_stale_s=1.0) as (
        _,
        scorer,
        _s,
    ):
        await eventually(lambda: _schema_checked(scorer), what="the scorer's schema checked")
        ready = await scorer.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": True, "schema": True, "broker": False, "consumers": False}
        await asyncio.sleep(1.5)  # longer than the stale bound: the relay and consumer loops beat while waiting
        assert (await scorer.get("/healthz")).status_code == 200


async def _ready(client: httpx.AsyncClient) -> httpx.Response | None:
    response = await client.get("/readyz")
    return response if response.status_code == 200 else None


async def _schema_checked(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/readyz")).json()["checks"]["schema"])
