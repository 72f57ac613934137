"""Every non-webhook, non-operational route of every service refuses a missing token and a wrong scope, and its
OpenAPI operation says it takes a bearer token."""

import re
import uuid

import pytest

from services.registry import SERVICE_NAMES
from tests.service.conftest import running_service
from tests.support import bearer, token_with

OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}
# A scope that none of the service's own routes accept.
UNRELATED_SCOPE = {
    "intake": "forecast:read",
    "scorer": "forecast:read",
    "qualifier": "forecast:read",
    "forecast": "leads:write",
    "notifier": "forecast:read",
}


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_protected_routes_refuse_missing_token_and_wrong_scope(
    name: str, database_url: str, kafka_bootstrap: str
) -> None:
    async with running_service(name, database_url, kafka_bootstrap) as (app, client, _):
        # The published OpenAPI is the list of routes, so a new route is covered without touching this test.
        operations = [
            (method.upper(), template)
            for template, item in app.openapi()["paths"].items()
            for method in item
            if template not in OPEN_PATHS and not template.startswith("/v1/webhooks")
        ]
        assert operations, f"{name} has no protected routes"
        paths = app.openapi()["paths"]
        for method, template in operations:
            # So /docs offers the token for it, and generated clients send one.
            assert paths[template][method.lower()].get("security") == [{"bearer": []}], (method, template)
            path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
            anonymous = await client.request(method, path, json={})
            assert anonymous.status_code == 401, (method, template, anonymous.text)
            assert anonymous.headers["content-type"] == "application/problem+json"
            wrong = await client.request(method, path, json={}, headers=bearer(token_with(UNRELATED_SCOPE[name])))
            assert wrong.status_code == 403, (method, template, wrong.text)


async def test_guessing_tokens_from_one_address_is_slowed(database_url: str, kafka_bootstrap: str) -> None:
    import httpx

    async with running_service("scorer", database_url, kafka_bootstrap, rate_limit_failed_auth=0.01) as (app, c, _):
        guesser = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 5000)), base_url="http://test"
        )
        statuses = [
            (await guesser.get("/v1/worklist", headers=bearer(f"guess-{i:04d}-0123456789abcdef"))).status_code
            for i in range(35)
        ]
        await guesser.aclose()
        assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}
        assert (await c.get("/v1/worklist", headers=bearer())).status_code == 200  # other addresses are unaffected
