"""Pipeline tier: real broker, real PostgreSQL, the services as real processes."""

import os
from collections.abc import Iterator

import pytest

from services.embedded.broker import free_port
from services.embedded.dev import EmbeddedPipeline, Printer
from tests.support import ADMIN_TOKEN, GENERIC_SECRET


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/pipeline/" in str(item.path):
            item.add_marker(pytest.mark.pipeline)


@pytest.fixture(scope="module")
def pipeline(
    request: pytest.FixtureRequest,
    module_database_url: str,
    private_broker: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmbeddedPipeline]:
    """The services on this module's database and a private broker. A module adds to their environment with
    `PIPELINE_ENV` and starts the console too with `WITH_CONSOLE = True`."""
    env = dict(os.environ) | {
        "DATABASE_URL": module_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": private_broker,
        "LEADFLOW_API_TOKEN": ADMIN_TOKEN,
        "LEADFLOW_WEBHOOK_SECRET_GENERIC": GENERIC_SECRET,
        "LEADFLOW_GAUGE_REFRESH_S": "1",
        "LEADFLOW_LAG_INTERVAL_S": "1",
        **getattr(request.module, "PIPELINE_ENV", {}),
    }
    running = EmbeddedPipeline(tmp_path_factory.mktemp("pipeline"), port_base=free_port(), env=env)
    try:
        running.start(log=Printer())
        if getattr(request.module, "WITH_CONSOLE", False):
            running.start_console()
        yield running
    finally:
        running.stop()
