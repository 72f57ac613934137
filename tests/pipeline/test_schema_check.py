"""A service process started on a schema its migrations have not reached stops and says why (#17)."""

import os
import uuid
from pathlib import Path

from alembic.script import ScriptDirectory

from services.embedded.broker import free_port
from services.embedded.processes import ServiceProcess
from services.registry import service
from shared.db import migrations
from tests.support import ADMIN_TOKEN, GENERIC_SECRET, wait_until


def test_a_service_on_a_schema_behind_its_code_stops_and_names_the_fix(
    database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    spec = service("intake")
    schema = f"behind_{uuid.uuid4().hex[:6]}"
    scripts = ScriptDirectory.from_config(migrations.alembic_config(spec.migrations, database_url, schema))
    head = scripts.get_current_head()
    assert head is not None
    older = scripts.get_revision(head).down_revision
    assert isinstance(older, str)
    migrations.upgrade(spec.migrations, database_url, schema, older)  # an init container that did not run
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "LEADFLOW_DATABASE_SCHEMA": schema,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADFLOW_ENVIRONMENT": "development",
        "LEADFLOW_API_TOKEN": ADMIN_TOKEN,
        "LEADFLOW_WEBHOOK_SECRET_GENERIC": GENERIC_SECRET,
    }
    process = ServiceProcess("intake", free_port(), env, tmp_path / "intake.log")
    process.start()
    try:
        wait_until(lambda: not process.running(), timeout_s=60, what="the service to stop")
    finally:
        process.stop()
    log = (tmp_path / "intake.log").read_text()
    assert "service.schema_behind" in log
    assert f"is at {older}, this code needs {head}: run `leadflow migrate`" in log

    migrations.upgrade(spec.migrations, database_url, schema)  # what the init container does
    process = ServiceProcess("intake", free_port(), env, tmp_path / "intake-migrated.log")
    process.start()
    try:
        process.wait_ready()
    finally:
        process.stop()
    assert "service.schema_checked" in (tmp_path / "intake-migrated.log").read_text()
