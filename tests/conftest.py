"""Fixtures for real infrastructure: a fresh PostgreSQL database per run and a Kafka-protocol broker."""

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url

from services.embedded.broker import EmbeddedBroker, free_port

# CI explores the same examples on every run, so a landing never hinges on luck; locally each run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server: DATABASE_URL, else the local one, else a testcontainer. Never SQLite."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if not url.startswith("postgresql+asyncpg://"):
            pytest.fail(f"tests need PostgreSQL; DATABASE_URL is {make_url(url).drivername}")
        yield url
        return
    if _server_answers(LOCAL_POSTGRES) or not _docker_engine_available():
        yield LOCAL_POSTGRES
        return
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
        yield container.get_connection_url()


def _server_answers(url: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(_dsn(url), timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(postgres_server: str) -> Iterator[str]:
    """A database created for this test run and dropped after it."""
    yield from _fresh_database(postgres_server)


def _fresh_database(postgres_server: str) -> Iterator[str]:
    name = f"leadflow_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        try:
            conn = await asyncpg.connect(_dsn(postgres_server), timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            pytest.fail(
                f"PostgreSQL is required and did not answer at {make_url(postgres_server).render_as_string()}: "
                f"{exc}. Start it (make services) or set DATABASE_URL."
            )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, else an embedded Tansu broker, else a Kafka testcontainer."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    try:
        broker = EmbeddedBroker(free_port())
        broker.start()
    except Exception:
        if not _docker_engine_available():
            raise
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
        return
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def module_database_url(postgres_server: str) -> Iterator[str]:
    """A database of its own for a module whose services use the default schema names."""
    yield from _fresh_database(postgres_server)


@pytest.fixture(scope="module")
def private_broker() -> Iterator[str]:
    """A broker of this module's own, so its topics hold only its events (Tansu starts in milliseconds)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("a private broker needs the embedded one; KAFKA_BOOTSTRAP_SERVERS is set")
    with EmbeddedBroker(free_port()) as broker:
        yield broker.bootstrap_servers
