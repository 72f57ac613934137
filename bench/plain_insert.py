"""The baseline of the benchmarks: the best plain endpoint, FastAPI + asyncpg doing one autocommit INSERT per
request. No ORM, no transaction block: one round trip to the database per request. Served by uvicorn, one
process, as each leadflow service is."""

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import make_url

_DSN = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
_INSERT = "INSERT INTO plain_leads (body) VALUES ($1)"
pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global pool  # noqa: PLW0603 - one pool for the process, made when uvicorn starts it
    pool = await asyncpg.create_pool(_DSN, min_size=10, max_size=20)
    async with pool.acquire() as connection:
        await connection.execute("CREATE TABLE IF NOT EXISTS plain_leads (id bigserial PRIMARY KEY, body text)")
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/plain", status_code=202)
async def plain(request: Request) -> Response:
    body = await request.body()
    json.loads(body)
    assert pool is not None
    async with pool.acquire() as connection:
        await connection.execute(_INSERT, body.decode())  # prepared once per connection by asyncpg
    return Response(status_code=202)
