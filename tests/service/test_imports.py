"""Bulk import through the API: progress, a row error report, outcomes, idempotence."""

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select, update

from services.intake.commands.imports import runner
from services.intake.commands.imports.mapping import ImportMapping
from services.intake.persistence.tables import import_chunks, imports
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWorkFactory
from tests.service.conftest import running_service
from tests.support import bearer, shared_data, token_with

MAPPING = """
source: crm-export
identity: {email: Email}
fields: {first_name: First, job_title: Title, company: Company, country: Country}
answers: {budget: Budget}
outcome: {column: Status, won: [Won], lost: [Lost]}
missing: ["", "n/a"]
"""
CSV = """Email,First,Title,Company,Country,Budget,Status
ana@northwind.com,Ana,VP Sales,Northwind,US,50000,Won
ben@acme.io,Ben,Engineer,Acme,DE,n/a,Lost
not-an-email,Cid,CTO,Cidco,FR,,Won
dee@globex.com,Dee,Director,Globex,GB,10000,
eve@initech.com,Eve,CEO,Initech,US,,Maybe
"""


@pytest.fixture
async def intake(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    async with running_service("intake", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        yield client, database
        await database.dispose()


async def upload(client: httpx.AsyncClient, csv_text: str, mapping: str = MAPPING) -> httpx.Response:
    return await client.post(
        "/v1/imports",
        headers=bearer(token_with("leads:write")),
        files={"file": ("export.csv", csv_text.encode(), "text/csv")},
        data={"mapping": mapping},
    )


async def finished(client: httpx.AsyncClient, import_id: str) -> dict[str, Any]:
    for _ in range(200):
        job = (await client.get(f"/v1/imports/{import_id}", headers=bearer(token_with("leads:read")))).json()
        if job["status"] not in ("staging", "running"):
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError("import did not finish")


async def event_types(database: Database) -> list[str]:
    async with database.session() as session:
        return list((await session.execute(select(OUTBOX.c.event_type).order_by(OUTBOX.c.id))).scalars())


async def test_import_reports_row_errors_records_outcomes_and_is_idempotent(intake: Any) -> None:
    client, database = intake
    accepted = await upload(client, CSV)
    assert accepted.status_code == 202, accepted.text
    job = await finished(client, accepted.json()["import_id"])
    assert (job["status"], job["total"], job["accepted"], job["failed"]) == ("done", 5, 3, 2)
    assert [e["row"] for e in job["errors"]] == [4, 6]
    assert "not a valid address" in job["errors"][0]["error"] and "'Maybe'" in job["errors"][1]["error"]
    types = await event_types(database)
    assert types.count("io.leadflow.lead.captured.v1") == 3
    assert types.count("io.leadflow.lead.outcome_recorded.v1") == 2  # Dee has no outcome

    again = await finished(client, (await upload(client, CSV)).json()["import_id"])
    assert (again["accepted"], again["duplicates"], again["failed"]) == (0, 3, 2)
    assert len(await event_types(database)) == len(types)


async def test_a_changed_row_is_news_but_the_same_person_stays_one_lead(intake: Any) -> None:
    client, database = intake
    await finished(client, (await upload(client, CSV)).json()["import_id"])
    changed = CSV.replace("ana@northwind.com,Ana,VP Sales", "ana@northwind.com,Ana,CRO")
    job = await finished(client, (await upload(client, changed)).json()["import_id"])
    assert job["accepted"] == 1 and job["duplicates"] == 2
    async with database.session() as session:
        from services.intake.persistence.tables import leads

        titles = (await session.execute(select(leads.c.job_title).where(leads.c.email == "ana@northwind.com"))).all()
        total = await session.scalar(select(func.count()).select_from(leads))
    assert titles == [("CRO",)] and total == 3


@pytest.mark.parametrize(
    ("csv_text", "mapping", "detail"),
    [
        ("Mail,First\nx@y.com,X\n", MAPPING, "columns the mapping names are not in the file"),
        (CSV, MAPPING.replace("identity: {email: Email}", "identity: {}"), "identity"),
        (CSV, MAPPING.replace("job_title: Title", "jobtitle: Title"), "unknown lead fields"),
        (CSV, "source: [unclosed", "not valid YAML"),
    ],
)
async def test_unusable_files_and_mappings_are_refused_up_front(
    intake: Any, csv_text: str, mapping: str, detail: str
) -> None:
    client, database = intake
    response = await upload(client, csv_text, mapping)
    assert response.status_code == 422 and detail in response.json()["detail"], response.text
    assert await event_types(database) == []


def test_the_shipped_xeducation_mapping_reads_the_real_file() -> None:
    from services.intake.commands.imports.mapping import ImportMapping
    from services.intake.commands.imports.runner import CsvRows

    root = Path(__file__).resolve().parents[2]
    import yaml

    mapping = ImportMapping.model_validate(yaml.safe_load((root / "deploy/imports/xeducation.yaml").read_text()))
    with shared_data("xeducation/leads.csv").open("rb") as upload:
        reader = CsvRows(upload, mapping)
        total = 0
        while chunk := reader.take(1000):
            total += len(chunk)
    assert total == 9240
    leaky = {"Tags", "Lead Quality", "Lead Profile", "Last Notable Activity", "Asymmetrique Activity Score"}
    assert not leaky & mapping.columns()


async def test_an_import_whose_runner_stopped_goes_on_where_it_was(intake: Any) -> None:
    """A restart mid-import: the chunks already imported are gone with their transaction, the rest wait; a
    replica resumes once the heartbeat is old, and every row is counted once."""
    client, database = intake
    uow = UnitOfWorkFactory(database)
    rows = "".join(f"p{i}@northwind.com,P{i},Analyst,Northwind,US,,Won\n" for i in range(600))
    mapping = ImportMapping.model_validate(yaml.safe_load(MAPPING))
    import_id = await runner.stage(
        uow, mapping, MAPPING, "big.csv", io.BytesIO((CSV.splitlines()[0] + "\n" + rows).encode())
    )
    assert await count(database, import_chunks) == 3  # 250 + 250 + 100, nothing imported yet
    assert await runner._next_chunk(uow, import_id, mapping, datetime.now(UTC))  # the runner got this far
    workers = runner.ImportWorkers(uow)
    assert await workers.resume_stale() == 0  # its heartbeat is fresh: it may still be running
    later = datetime.now(UTC) + runner.STALE_AFTER + timedelta(seconds=1)
    # Two replicas find it stale at the same moment, each on its own connections: one takes it over.
    other = Database(database.url, database.schema)
    rivals = (workers, runner.ImportWorkers(UnitOfWorkFactory(other)))
    taken = await asyncio.gather(*(w.resume_stale(now=later) for w in rivals))
    assert sorted(taken) == [0, 1]
    assert await workers.resume_stale(now=later) == 0  # claimed once
    job = await finished(client, import_id)
    assert (job["status"], job["total"], job["processed"], job["accepted"]) == ("done", 600, 600, 600)
    assert await count(database, import_chunks) == 0
    await other.dispose()


async def test_an_upload_interrupted_while_stored_is_marked_failed(intake: Any) -> None:
    client, database = intake
    uow = UnitOfWorkFactory(database)
    mapping = ImportMapping.model_validate(yaml.safe_load(MAPPING))
    import_id = await runner.stage(uow, mapping, MAPPING, "export.csv", io.BytesIO(CSV.encode()))
    async with database.session() as session, session.begin():
        await session.execute(update(imports).where(imports.c.import_id == import_id).values(status="staging"))
    later = datetime.now(UTC) + runner.STALE_AFTER + timedelta(seconds=1)
    assert await runner.ImportWorkers(uow).resume_stale(now=later) == 1
    job = (await client.get(f"/v1/imports/{import_id}", headers=bearer())).json()
    assert job["status"] == "failed" and "upload again" in job["errors"][-1]["error"]
    assert await count(database, import_chunks) == 0


async def test_a_file_that_turns_out_not_to_be_utf8_is_refused_whole(intake: Any) -> None:
    client, database = intake
    rows = "".join(f"q{i}@northwind.com,Q{i},Analyst,Northwind,US,,Won\n" for i in range(400))
    data = (CSV + rows).encode() + b"\xff\xfe,broken\n"
    response = await client.post(
        "/v1/imports",
        headers=bearer(token_with("leads:write")),
        files={"file": ("export.csv", data, "text/csv")},
        data={"mapping": MAPPING},
    )
    assert response.status_code == 422 and "not UTF-8" in response.json()["detail"]
    assert await event_types(database) == [] and await count(database, import_chunks) == 0


async def count(database: Database, table: Any) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)
