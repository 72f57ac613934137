"""Driving the running pipeline over HTTP, as its users would."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from services.embedded.dev import EmbeddedPipeline
from shared.db.database import Database
from shared.ids import lead_id_for
from tests.support import bearer, signed_webhook, wait_until


def scalar(database_url: str, schema: str, sql: str) -> Any:
    """One value from a service's schema, on a connection of its own."""

    async def run() -> Any:
        database = Database(database_url, schema)
        try:
            async with database.session() as session:
                return await session.scalar(text(sql))
        finally:
            await database.dispose()

    return asyncio.run(run())


def url(pipeline: EmbeddedPipeline, name: str) -> str:
    return pipeline.processes[name].url


def get_json(address: str) -> Any:
    response = httpx.get(address, headers=bearer(), timeout=10)
    return response.json() if response.status_code == 200 else None


def post_webhook(pipeline: EmbeddedPipeline, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    body, headers = signed_webhook(data, **kwargs)
    response = httpx.post(f"{url(pipeline, 'intake')}/v1/webhooks/generic", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_each_lead_once(database_url: str, emails: list[str], *, timeout_s: float = 240) -> None:
    """Every lead reached intake, the scorer and the qualifier, and none was applied twice."""

    total = len(emails)
    ids = ", ".join(f"'{lead_id_for(e)}'" for e in emails)

    def count(schema: str, sql: str) -> int:
        return int(scalar(database_url, schema, sql.format(ids=ids)))

    for schema, table in (("intake", "leads"), ("scorer", "profiles"), ("qualifier", "leads")):
        wait_until(
            lambda: count(schema, f"SELECT count(*) FROM {table} WHERE lead_id IN ({{ids}})") == total or None,  # noqa: B023
            timeout_s=timeout_s,
            interval_s=1,
            what=f"all {total} leads in {schema}.{table}",
        )
    assert count("intake", "SELECT count(*) FROM outbox WHERE key IN ({ids}) AND event_type LIKE '%captured%'") == total
    assert count("scorer", "SELECT count(*) FROM activities WHERE lead_id IN ({ids})") == total
    assert count("scorer", "SELECT count(*) FROM outbox WHERE key IN ({ids})") == total  # one lead.scored each
    assert (
        count("qualifier", "SELECT count(*) FROM transitions WHERE from_stage IS NULL AND lead_id IN ({ids})") == total
    )
