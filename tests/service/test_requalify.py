"""`leadflow requalify`: the what-if over every lead, then applying it."""

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services.cli import app
from services.qualifier.bootstrap import MIGRATIONS
from services.qualifier.persistence.tables import leads, transitions
from services.rules import DEFAULT_RULES
from shared.db import migrations
from shared.db.database import Database
from shared.db.metadata import OUTBOX
from shared.events.models import Company
from tests.service.test_qualifier_api import QUALIFIED_COMPANY, capture


@pytest.fixture
def populated(database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Database, dict[str, str]]:
    schema = f"whatif_{uuid.uuid4().hex[:8]}"
    migrations.upgrade(MIGRATIONS, database_url, schema)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEADFLOW_DATABASE_SCHEMA", schema)
    database = Database(database_url, schema)

    async def setup() -> dict[str, str]:
        german_vp = await capture(
            database,
            mql=True,
            title="VP Operations",
            company=QUALIFIED_COMPANY,
            answers={"use_case": "routing", "crm": "HubSpot"},
        )
        us_manager = await capture(
            database,
            mql=True,
            title="Sales Manager",
            company=Company(industry="Software", size="300", country="US"),
            answers={"use_case": "routing", "crm": "Salesforce"},
        )
        await database.dispose()
        return {"german_vp": german_vp, "us_manager": us_manager}

    return database, asyncio.run(setup())


def stages(database: Database) -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with database.session() as session:
            rows = (await session.execute(select(leads.c.lead_id, leads.c.stage))).all()
        await database.dispose()
        return {r.lead_id: r.stage for r in rows}

    return asyncio.run(read())


def stricter_rules(tmp_path: Path) -> Path:
    """No more Germany; managers count as stakeholders."""
    text = DEFAULT_RULES.read_text()
    text = text.replace("in: [US, CA, GB, IE, DE, AT,", "in: [US, CA, GB, IE, AT,")
    text = text.replace(
        "- {fact: contact.seniority, in: [executive, vice_president, director]}",
        "- {fact: contact.seniority, in: [executive, vice_president, director, manager]}",
    )
    path = tmp_path / "new.yaml"
    path.write_text(text)
    return path


def test_dry_run_shows_moves_and_changes_nothing(populated: tuple[Database, dict[str, str]], tmp_path: Path) -> None:
    database, ids = populated
    assert stages(database) == {ids["german_vp"]: "prospect", ids["us_manager"]: "mql"}
    result = CliRunner().invoke(app, ["requalify", "--rules", str(stricter_rules(tmp_path)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 leads evaluated, 2 would move" in result.output
    assert "prospect → mql" in result.output and "mql → prospect" in result.output
    assert "organisation.country: pass → fail" in result.output
    assert "stakeholder.authority: unknown → pass" in result.output
    assert stages(database) == {ids["german_vp"]: "prospect", ids["us_manager"]: "mql"}


def test_apply_moves_the_leads_records_why_and_emits_events(
    populated: tuple[Database, dict[str, str]], tmp_path: Path
) -> None:
    database, ids = populated
    result = CliRunner().invoke(app, ["requalify", "--rules", str(stricter_rules(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "applied: 2 leads moved" in result.output
    assert stages(database) == {ids["german_vp"]: "mql", ids["us_manager"]: "prospect"}

    async def audit() -> tuple[list[str], int]:
        async with database.session() as session:
            deciders = (
                (
                    await session.execute(
                        select(transitions.c.decided_by).where(transitions.c.decided_by.like("requalify%"))
                    )
                )
                .scalars()
                .all()
            )
            events = len((await session.execute(select(OUTBOX.c.id))).all())
        await database.dispose()
        return list(deciders), events

    deciders, events = asyncio.run(audit())
    assert len(deciders) == 2
    assert events > 0


def test_invalid_new_rules_are_refused_with_file_and_key(
    tmp_path: Path, populated: tuple[Database, dict[str, str]]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_RULES.read_text().replace("qualify_with: three_stage", "qualify_with: meddic"))
    result = CliRunner().invoke(app, ["requalify", "--rules", str(bad), "--dry-run"])
    assert result.exit_code != 0
    assert "qualification" in result.output and "meddic" in result.output
