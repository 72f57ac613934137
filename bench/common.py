"""What the benchmarks share: a fresh PostgreSQL database, an embedded broker, and an open-loop load driver."""

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from services.embedded.broker import EmbeddedBroker, free_port
from services.embedded.dev import EmbeddedPipeline, Printer
from services.embedded.processes import ServiceProcess

SERVER = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A database for this run only, dropped afterwards."""
    name = f"leadflow_bench_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn(SERVER))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, else an embedded Tansu for this run."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    with EmbeddedBroker(free_port()) as embedded:
        yield embedded.bootstrap_servers


@dataclass(frozen=True)
class LoadResult:
    """What one load step measured."""

    offered_per_s: float | None
    sent: int
    accepted: int
    seconds: float
    latencies_ms: list[float]

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


async def drive(
    send: Callable[[int], Awaitable[bool]], *, count: int, rate: float | None, concurrency: int = 64
) -> LoadResult:
    """Send `count` requests: at `rate` per second (open loop), or as fast as `concurrency` allows."""
    latencies: list[float] = []
    accepted = 0
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal accepted
        async with gate:
            began = time.perf_counter()
            ok = await send(i)
            latencies.append((time.perf_counter() - began) * 1000)
            accepted += ok

    started = time.perf_counter()
    tasks = []
    for i in range(count):
        if rate:
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return LoadResult(rate, count, accepted, time.perf_counter() - started, latencies)


BENCH_TOKEN = "bench-admin-token-0123456789abcdef"


def start_pipeline(database_url: str, bootstrap: str, **env: str) -> EmbeddedPipeline:
    """The four services on this database and broker, logging warnings only; stop it when done."""
    full = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LEADFLOW_API_TOKEN": BENCH_TOKEN,
        "LEADFLOW_LOG_LEVEL": "WARNING",
        **env,
    }
    pipeline = EmbeddedPipeline(Path(tempfile.mkdtemp(prefix="leadflow-bench-")), free_port(), full)
    pipeline.start(log=Printer())
    return pipeline


def start_replicas(pipeline: EmbeddedPipeline, bootstrap: str, replicas: int) -> list[ServiceProcess]:
    """Further processes of every service on the same database and broker."""
    extra = []
    for copy in range(2, replicas + 1):
        for name in pipeline.processes:
            process = ServiceProcess(
                name,
                free_port(),
                pipeline.service_env(name, bootstrap),
                pipeline.workdir / "logs" / f"{name}-{copy}.log",
            )
            process.start()
            extra.append(process)
    for process in extra:
        process.wait_ready()
    return extra
