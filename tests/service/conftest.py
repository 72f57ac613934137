"""Service tier: one service in-process over HTTP, on a real PostgreSQL schema migrated with Alembic."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.registry import service
from shared.settings import ServiceSettings
from tests.support import ADMIN_TOKEN, GENERIC_SECRET, SCOPED_TOKENS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/service/" in str(item.path):
            item.add_marker(pytest.mark.service)


@asynccontextmanager
async def running_service(
    name: str, database_url: str, kafka_bootstrap: str, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, ServiceSettings]]:
    """Migrate a fresh schema, start the app's lifespan, and give back a client."""
    spec = service(name)
    overrides.setdefault("database_schema", f"{name}_{uuid.uuid4().hex[:8]}")  # a given one: a second app on it
    settings = spec.settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        api_token=ADMIN_TOKEN,
        api_tokens=SCOPED_TOKENS,
        webhook_secret_generic=GENERIC_SECRET,
        log_json=False,
        **{"run_consumers": False} | overrides,  # this tier drives handlers directly; the pipeline tier consumes
    )
    await asyncio.to_thread(spec.migrate, settings)
    app = spec.build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client, settings


ServiceFactory = Callable[..., Awaitable[tuple[FastAPI, httpx.AsyncClient, ServiceSettings]]]
