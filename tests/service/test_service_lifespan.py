"""What every service's lifespan does to its process, beyond the tasks it starts."""

import gc

from tests.service.conftest import running_service


async def test_start_up_objects_are_frozen_out_of_the_collectors_walks(database_url: str, kafka_bootstrap: str) -> None:
    # Without the freeze every full collection walked the whole import graph: 160-360 ms stalls under load.
    frozen_before = gc.get_freeze_count()
    async with running_service("scorer", database_url, kafka_bootstrap):
        assert gc.get_freeze_count() > frozen_before


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
