"""A person erased through intake while every service holds something of them: afterwards no table of any
service, no replay of any outbox and no log line written since carries their address, name or phone."""

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

from services.embedded.dev import EmbeddedPipeline
from shared.db.database import Database
from tests.pipeline.driving import get_json, post_webhook, url
from tests.support import bearer, lead_payload, wait_until

SCHEMAS = ("intake", "scorer", "qualifier", "forecast")


def rows_naming(database_url: str, needles: list[str]) -> dict[str, int]:
    """Per table of every service, how many rows mention any of the needles (in any column, as text)."""

    async def run() -> dict[str, int]:
        database = Database(database_url, "public")
        found: dict[str, int] = {}
        try:
            async with database.session() as session:
                tables = await session.execute(
                    text("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(:s)"),
                    {"s": list(SCHEMAS)},
                )
                patterns = [f"%{n.lower()}%" for n in needles]
                patterns += [f"%{n.lower().encode().hex()}%" for n in needles]  # bytea columns read as hex
                for schema, table in tables.all():
                    hits = await session.scalar(
                        text(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE lower(t::text) LIKE ANY(:p)'),
                        {"p": patterns},
                    )
                    if hits:
                        found[f"{schema}.{table}"] = int(hits)
        finally:
            await database.dispose()
        return found

    return asyncio.run(run())


def test_an_erased_person_is_gone_from_every_service_replay_and_log(
    pipeline: EmbeddedPipeline, module_database_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    email, first, last, phone = f"zelda.{tag}@quistorff-erase.com", f"Zelda{tag}", f"Quistorff{tag}", "+1 555 0187"
    lead_id = post_webhook(pipeline, lead_payload(email, first_name=first, last_name=last, phone=phone))["lead_id"]
    wait_until(lambda: get_json(f"{url(pipeline, 'scorer')}/v1/scores/{lead_id}"), timeout_s=90, what="scored")
    wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), timeout_s=90, what="qualified")
    noted = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}/evidence",
        headers=bearer(),
        json={"evidence": {"need": f"{first} wants routing"}, "note": f"call with {first} {last}, {phone}"},
        timeout=10,
    )
    assert noted.status_code == 200, noted.text
    needles = [email, first, last, phone]
    before = rows_naming(module_database_url, needles)
    assert {"intake.leads", "scorer.profiles", "qualifier.leads", "qualifier.evidence"} <= set(before), before

    logs = {name: p.log_file for name, p in pipeline.processes.items()}
    offsets = {name: Path(f).stat().st_size for name, f in logs.items()}
    erased = httpx.delete(f"{url(pipeline, 'intake')}/v1/people/{email}", headers=bearer(), timeout=10)
    assert erased.status_code == 200, erased.text
    assert erased.json()["lead_ids"] == [lead_id]

    def gone() -> bool:
        return not rows_naming(module_database_url, needles)

    wait_until(gone, timeout_s=90, what="the person gone from every service")
    assert get_json(f"{url(pipeline, 'scorer')}/v1/scores/{lead_id}") is None
    assert get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}") is None

    # A replay of every outbox sends nothing about her, and what still arrives from before does not bring her back.
    for service in ("intake", "scorer", "qualifier"):
        replay = subprocess.run(
            [sys.executable, "-m", "services.cli", "replay", service],
            env=pipeline.service_env(service, pipeline.base_env["KAFKA_BOOTSTRAP_SERVERS"]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert replay.returncode == 0, replay.stderr[-1000:]
    marker = post_webhook(pipeline, lead_payload())["lead_id"]  # queued behind the replayed events
    wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{marker}"), timeout_s=120, what="marker")
    wait_until(lambda: get_json(f"{url(pipeline, 'scorer')}/v1/scores/{marker}"), timeout_s=120, what="marker")
    assert rows_naming(module_database_url, needles) == {}
    assert get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}") is None

    for name, log_file in logs.items():
        with open(log_file, "rb") as written:
            written.seek(offsets[name])
            since = written.read().decode(errors="replace").lower()
        assert not [n for n in needles if n.lower() in since], f"{name}'s log names her after the erasure"
