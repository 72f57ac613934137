"""A reference for bench/intake.py: a FastAPI endpoint that parses the JSON and does one INSERT inside a SQLAlchemy
transaction (BEGIN, INSERT, COMMIT: three round trips). The baseline is bench/plain_insert.py."""

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=10)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bare_leads (id bigserial PRIMARY KEY, body text)"))
    yield
    await engine.dispose()


# Without per-request OpenTelemetry checks, as leadflow's services run: the baseline is the best plain endpoint.
app = FastAPI(lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/bare", status_code=202)
async def bare(request: Request) -> Response:
    body = await request.body()
    json.loads(body)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO bare_leads (body) VALUES (:b)"), {"b": body.decode()})
    return Response(status_code=202)
