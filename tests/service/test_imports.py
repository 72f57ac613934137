"""Bulk import through the API: progress, a row error report, outcomes, idempotence."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.metadata import OUTBOX
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
        if job["status"] != "running":
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
    from services.intake.imports.mapping import ImportMapping
    from services.intake.imports.runner import read_csv

    root = Path(__file__).resolve().parents[2]
    import yaml

    mapping = ImportMapping.model_validate(yaml.safe_load((root / "deploy/imports/xeducation.yaml").read_text()))
    rows = read_csv(shared_data("xeducation/leads.csv").read_bytes(), mapping)
    assert len(rows.rows) == 9240
    leaky = {"Tags", "Lead Quality", "Lead Profile", "Last Notable Activity", "Asymmetrique Activity Score"}
    assert not leaky & mapping.columns()
