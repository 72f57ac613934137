from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from shared.http.auth import Scope, TokenAuthority, TokenGrant
from shared.http.problems import install_problem_handlers
from shared.settings import ServiceSettings

AUTHORITY = TokenAuthority(
    [
        TokenGrant("dashboard", "reader", frozenset({"leads:read"})),
        TokenGrant("ops", "boss", frozenset({"admin"})),
        TokenGrant("crm-sync", "crm", frozenset({"leads:write"}), integration=True),
    ]
)


def client() -> httpx.AsyncClient:
    api = FastAPI()
    install_problem_handlers(api)

    @api.get("/read", dependencies=[Depends(AUTHORITY.require(Scope.LEADS_READ))])
    def read() -> dict[str, bool]:
        return {"ok": True}

    @api.get("/forecast", dependencies=[Depends(AUTHORITY.require(Scope.FORECAST_READ))])
    def forecast() -> dict[str, bool]:
        return {"ok": True}

    @api.post("/act")
    def act(actor: Annotated[str, Depends(AUTHORITY.actor(Scope.LEADS_WRITE))]) -> dict[str, str]:
        return {"actor": actor}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test")


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "bearer nope"])
async def test_missing_or_unknown_token_is_401_problem(header: str | None) -> None:
    async with client() as c:
        response = await c.get("/read", headers={"authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"]


async def test_wrong_scope_is_403_naming_the_scope() -> None:
    async with client() as c:
        response = await c.get("/forecast", headers={"authorization": "Bearer reader"})
    assert response.status_code == 403
    assert "forecast:read" in response.json()["detail"]


async def test_right_scope_and_admin_pass() -> None:
    async with client() as c:
        assert (await c.get("/read", headers={"authorization": "Bearer reader"})).status_code == 200
        assert (await c.get("/forecast", headers={"authorization": "Bearer boss"})).status_code == 200


def test_unknown_scope_in_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        TokenAuthority([TokenGrant("x", "x", frozenset({"leads:delete"}))])


def test_two_tokens_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two tokens are named 'ops'"):
        TokenAuthority([TokenGrant("ops", "a", frozenset({"admin"})), TokenGrant("ops", "b", frozenset({"admin"}))])


@pytest.mark.parametrize(
    ("token", "claimed", "actor"),
    [
        ("boss", None, "ops"),
        ("boss", "the.ceo", "ops"),  # a person's token acts as its own name whatever the header says
        ("crm", None, "crm-sync"),
        ("crm", "kim.manager", "kim.manager via crm-sync"),
    ],
)
async def test_the_audit_actor_is_the_token_name(token: str, claimed: str | None, actor: str) -> None:
    headers = {"authorization": f"Bearer {token}"} | ({"x-actor": claimed} if claimed else {})
    async with client() as c:
        response = await c.post("/act", headers=headers)
    assert response.status_code == 200 and response.json() == {"actor": actor}


async def test_the_actor_dependency_checks_the_scope() -> None:
    async with client() as c:
        response = await c.post("/act", headers={"authorization": "Bearer reader", "x-actor": "x"})
    assert response.status_code == 403 and "'dashboard' lacks the 'leads:write' scope" in response.json()["detail"]


def test_named_tokens_and_the_older_shape_are_read_from_the_environment() -> None:
    settings = ServiceSettings(
        api_token="a" * 32,
        api_tokens={
            "crm-sync": {"token": "c" * 32, "scopes": ["leads:write"], "integration": True},
            "d" * 32: ["leads:read"],  # the shape before names: the key is the token
        },
    )
    grants = {g.name: g for g in settings.token_grants()}
    assert grants["admin"].token == "a" * 32 and grants["admin"].scopes == {"admin"}
    assert grants["crm-sync"].integration and grants["crm-sync"].scopes == {"leads:write"}
    legacy = next(g for g in grants.values() if g.token == "d" * 32)
    assert legacy.name.startswith("token-") and "d" * 8 not in legacy.name  # named without revealing it
    with pytest.raises(ValueError, match="LEADFLOW_API_TOKENS"):
        ServiceSettings(api_tokens={"ops": {"token": "x" * 32, "scopes": ["leads:delete"]}})


def test_token_bucket_refills_at_its_rate() -> None:
    from shared.http.rate_limit import RateLimiter

    limiter = RateLimiter(rate=2, burst=2)
    assert limiter.retry_after("k", now=0) is None
    assert limiter.retry_after("k", now=0) is None
    assert limiter.retry_after("k", now=0) == 0.5
    assert limiter.retry_after("k", now=0.5) is None  # one token back after half a second
    assert limiter.retry_after("other", now=0.5) is None  # keys do not share a bucket
