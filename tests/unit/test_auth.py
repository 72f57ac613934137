import httpx
import pytest
from fastapi import Depends, FastAPI

from shared.http.auth import Scope, TokenAuthority
from shared.http.problems import install_problem_handlers

AUTHORITY = TokenAuthority({"reader": ["leads:read"], "boss": ["admin"]})


def client() -> httpx.AsyncClient:
    api = FastAPI()
    install_problem_handlers(api)

    @api.get("/read", dependencies=[Depends(AUTHORITY.require(Scope.LEADS_READ))])
    def read() -> dict[str, bool]:
        return {"ok": True}

    @api.get("/forecast", dependencies=[Depends(AUTHORITY.require(Scope.FORECAST_READ))])
    def forecast() -> dict[str, bool]:
        return {"ok": True}

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
        TokenAuthority({"x": ["leads:delete"]})


def test_token_bucket_refills_at_its_rate() -> None:
    from shared.http.rate_limit import RateLimiter

    limiter = RateLimiter(rate=2, burst=2)
    assert limiter.retry_after("k", now=0) is None
    assert limiter.retry_after("k", now=0) is None
    assert limiter.retry_after("k", now=0) == 0.5
    assert limiter.retry_after("k", now=0.5) is None  # one token back after half a second
    assert limiter.retry_after("other", now=0.5) is None  # keys do not share a bucket
