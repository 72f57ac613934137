"""Liveness from the loops' heartbeats: a stuck loop fails /healthz, naming it; a loop never started does not."""

import asyncio

import httpx
from fastapi import FastAPI

from shared.heartbeats import Heartbeats
from shared.http.operations import operations_router
from shared.http.problems import install_problem_handlers
from shared.metrics import Metrics


async def test_a_loop_that_stops_turning_fails_liveness_and_is_named() -> None:
    heartbeats = Heartbeats(stale_after_s=0.2)
    relay, consumer = heartbeats.beater("outbox.relay"), heartbeats.beater("consumer.scorer")
    heartbeats.beater("consumer.never-started")  # an API-only replica's consumer: never beats, never judged
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(operations_router(Metrics("scorer"), {}, heartbeats.stale))

    async def turning() -> None:
        while True:
            relay()
            await asyncio.sleep(0.05)

    loop = asyncio.create_task(turning())
    try:
        consumer()  # one turn, then stuck in an await that never returns
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/healthz")).status_code == 200
            await asyncio.sleep(0.3)
            stuck = await client.get("/healthz")
        assert stuck.status_code == 503
        assert stuck.headers["content-type"] == "application/problem+json"
        assert stuck.json()["detail"].startswith("stuck: consumer.scorer (no turn for 0.")
        assert list(stuck.json()["stuck"]) == ["consumer.scorer"]
    finally:
        loop.cancel()
