"""What every service process runs: database, broker, outbox relay, consumers and the FastAPI app."""

import asyncio
import gc
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.middleware import Middleware

from shared.db import jobs
from shared.db.database import Database
from shared.db.migrations import SchemaBehind, check_at_head
from shared.db.retention import Retention, messaging_retention, prune
from shared.db.unit_of_work import CommitListener, UnitOfWorkFactory
from shared.events.topics import ALL_TOPICS
from shared.heartbeats import Heartbeats
from shared.http.auth import TokenAuthority
from shared.http.body_limit import BodyLimit
from shared.http.openapi_problems import answer_with_problems
from shared.http.operations import Check, operations_router
from shared.http.problems import install_problem_handlers
from shared.http.rate_limit import RateLimiter
from shared.http.request_metrics import RequestMetrics
from shared.messaging.broker import Broker, TopicsMisconfigured
from shared.messaging.consumer import ConsumerLoop, ConsumerOptions
from shared.messaging.lag import LagProbe
from shared.messaging.relay import OutboxRelay
from shared.messaging.subscription import Subscription
from shared.metrics import Metrics
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """The wired plumbing of one service, built once in its composition root."""

    name: str
    settings: ServiceSettings
    database: Database
    broker: Broker
    metrics: Metrics
    relay: OutboxRelay
    unit_of_work: UnitOfWorkFactory
    tokens: TokenAuthority
    heartbeats: Heartbeats
    consumers: list[ConsumerLoop] = field(default_factory=list)
    commit_listeners: list[CommitListener] = field(default_factory=list)
    periodic: list[tuple[str, float, Callable[[], Awaitable[object]]]] = field(default_factory=list)
    retention: list[Retention] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[object]]] = field(default_factory=list)  # before the broker and database
    migrations: Path | None = None  # the service's Alembic scripts: start-up checks the schema is at their head
    schema_checked: bool = False

    def __post_init__(self) -> None:
        self.commit_listeners.append(self.relay.wake)
        self.unit_of_work.listeners = self.commit_listeners  # the list itself: services append to it later
        self.unit_of_work.wake_other_replicas = lambda: not self.relay.publishing
        s = self.settings
        self.retention.extend(messaging_retention(s.outbox_retention_days, s.inbox_retention_days))
        self.every("retention", s.retention_interval_s, lambda: prune(self.database, self.retention), at_start=False)
        # Measured from the table in every replica on a schedule of their own: a gauge set only after a send froze
        # (usually at 0) through the broker outage it should show, and standby replicas exported 0.
        self.every("outbox.gauges", s.gauge_refresh_s, self.relay.refresh_gauges, each_replica=True)
        self.every("broker.probe", s.gauge_refresh_s, self._probe_broker, each_replica=True)

    def readiness_checks(self) -> dict[str, Check]:
        """What this process needs before it should get traffic, by its role. One that consumes needs the broker
        and its groups; one that only accepts (intake, an API-only replica) needs its database alone: while the
        broker is away it keeps accepting into the outbox, so it must stay in the Service's endpoints."""
        checks: dict[str, Check] = {"database": self.database.reachable}
        if self.migrations is not None:
            checks["schema"] = self._schema_checked
        if self.consumers and self.settings.run_consumers:
            checks |= {"broker": self.broker.ping, "consumers": self.joined}
        return checks

    async def _schema_checked(self) -> bool:
        return self.schema_checked

    async def joined(self) -> bool:
        """Every consumer of this process is in its group, so what is published now gets consumed now."""
        return not self.settings.run_consumers or all(consumer.joined for consumer in self.consumers)

    async def _probe_broker(self) -> None:
        # Asked on its own schedule, not on a send: a service with nothing to publish must still show the outage.
        self.metrics.broker_reachable.set(1 if await self.broker.ping() else 0)

    def every(
        self,
        name: str,
        interval_s: float,
        job: Callable[[], Awaitable[object]],
        *,
        at_start: bool = True,
        each_replica: bool = False,
    ) -> None:
        """Run `job` every `interval_s` seconds while the service runs, in one replica of the service per interval
        (whichever claims it first; see shared.db.jobs), or in every replica with `each_replica` (work on the
        process's own memory, such as loading the active model). With `at_start=False` the first run waits one
        interval (a sweep that has nothing to do at start-up). Replicas started with run_jobs off run none."""
        if not self.settings.run_jobs:
            return
        run = job if each_replica else self._leased(name, interval_s, job)
        self.periodic.append((name, interval_s, run if at_start else _after(interval_s, run)))

    def _leased(
        self, name: str, interval_s: float, job: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            async with jobs.leased(self.database, name, interval_s) as claimed:
                if not claimed:
                    self.metrics.jobs_run.labels(name, "skipped").inc()
                    return None
                try:
                    result = await job()
                except Exception:
                    self.metrics.jobs_run.labels(name, "failed").inc()
                    raise
            self.metrics.jobs_run.labels(name, "ran").inc()
            return result

        return run

    def add_consumer(self, subscription: Subscription[Any]) -> None:
        """Consume the topics `subscription`'s handlers need, as consumer group `name`, applying each polled batch
        in one unit of work."""
        s = self.settings
        options = ConsumerOptions(
            batch_size=s.consumer_batch_size,
            max_attempts=s.consumer_max_attempts,
            retry_backoff_s=s.consumer_retry_backoff_s,
        )
        beat = self.heartbeats.beater(f"consumer.{self.name}")
        self.consumers.append(
            ConsumerLoop(self.name, subscription, self.unit_of_work, self.broker, self.metrics, options, beat)
        )
        if s.run_consumers:
            topics = [t.name for t in subscription.topics]
            probe = LagProbe(self.broker.options, self.name, topics, self.metrics.consumer_lag)
            self.every(f"lag.{self.name}", s.lag_interval_s, probe.measure, each_replica=True)


def build_runtime(name: str, settings: ServiceSettings, migrations: Path | None = None) -> Runtime:
    """Wire the plumbing of service `name` from its settings; with `migrations`, it starts only on a schema
    at their head."""
    database = Database(
        settings.database_url,
        settings.database_schema or name,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    broker = Broker(settings.kafka_options(), client_id=f"leadflow-{name}")
    metrics = Metrics(name)
    heartbeats = Heartbeats(settings.liveness_stale_s)
    relay = OutboxRelay(
        database,
        broker,
        metrics,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
        beat=heartbeats.beater("outbox.relay"),
    )
    return Runtime(
        name=name,
        settings=settings,
        database=database,
        broker=broker,
        metrics=metrics,
        relay=relay,
        unit_of_work=UnitOfWorkFactory(database),
        heartbeats=heartbeats,
        migrations=migrations,
        tokens=TokenAuthority(
            settings.token_grants(),
            RateLimiter(settings.rate_limit_per_token, int(settings.rate_limit_per_token * 2)),
            RateLimiter(settings.rate_limit_failed_auth, 30),
        ),
    )


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    runtime: Runtime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str,
    version: str = "1.0.0",
    inner_middleware: Sequence[Middleware] = (),
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """The service's FastAPI app; its lifespan runs the broker connection, relay and consumers.

    `inner_middleware` runs inside the request metrics, so what it serves is counted and timed like a route.
    Every request body is bounded by LEADFLOW_MAX_BODY_BYTES before routing and authentication; `body_limits`
    gives path prefixes a larger bound (intake's imports).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        consumers = [c for c in runtime.consumers if runtime.settings.run_consumers]
        # The watch on each loop starts with its task: one stuck before its first turn fails liveness too.
        for loop in ["outbox.relay", *(f"consumer.{c.group}" for c in consumers)]:
            runtime.heartbeats.beat(loop)
        tasks = [
            _supervised(
                "broker.connect",
                lambda: _connect_or_stop(runtime),
                restart=False,
            ),
            _supervised("schema.check", lambda: _check_schema_or_stop(runtime), restart=False),
            _supervised("outbox.relay", runtime.relay.run),
            *[_supervised(f"consumer.{c.group}", c.run) for c in consumers],
            *[_supervised(name, _every(interval, job)) for name, interval, job in runtime.periodic],
            *[_supervised(f"start.{i}", job, restart=False) for i, job in enumerate(runtime.on_start)],
        ]
        # What start-up built (modules, models, the rules) lives as long as the process: frozen, full collections
        # walk only what was made since, instead of stalling the event loop on all of it under load.
        gc.freeze()
        log.info("service.started", service=runtime.name)
        try:
            yield
        finally:
            await _shut_down(runtime, tasks)
            gc.unfreeze()  # what this app built may be collected now (a process that starts apps in turn: tests)

    # FastAPI's native OpenTelemetry asks the global providers on every request whether they are configured
    # (environment lookups, ~6 % of intake's CPU under load); leadflow exports Prometheus metrics instead.
    # In production the API documents are not served (the generated copies are in docs/openapi/).
    shown = runtime.settings.environment != "production"
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
        docs_url="/docs" if shown else None,
        redoc_url="/redoc" if shown else None,
        openapi_url="/openapi.json" if shown else None,
    )
    install_problem_handlers(app)
    answer_with_problems(app)
    for middleware in inner_middleware:
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes, overrides=body_limits)
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    app.include_router(
        operations_router(
            runtime.metrics,
            runtime.readiness_checks(),
            runtime.heartbeats.stale,
            runtime.settings.metrics_token.get_secret_value() if runtime.settings.metrics_token else None,
        )
    )
    for router in routers:
        app.include_router(router)
    return app


# A stop must finish inside the orchestrator's grace period (Kubernetes: 30 s) even if the broker or the
# database does not answer; whatever is not flushed by then is still in the outbox.
_STEP_TIMEOUT_S = 8.0


async def _shut_down(runtime: Runtime, tasks: list["asyncio.Task[None]"]) -> None:
    for task in tasks:
        task.cancel()
    _, stuck = await asyncio.wait(tasks, timeout=_STEP_TIMEOUT_S)
    steps = [*((f"on_stop.{i}", action) for i, action in enumerate(runtime.on_stop))]
    steps += [("broker", runtime.broker.close), ("database", runtime.database.dispose)]
    for step, action in steps:
        try:
            await asyncio.wait_for(action(), timeout=_STEP_TIMEOUT_S)
        except TimeoutError:
            log.warning("service.stop_timed_out", service=runtime.name, step=step)
    if stuck:
        log.warning("service.tasks_not_stopped", service=runtime.name, tasks=sorted(t.get_name() for t in stuck))
    log.info("service.stopped", service=runtime.name)


async def _connect_or_stop(runtime: Runtime) -> None:
    """Connect to the broker; on topics below the required replication, stop the process (an orchestrator shows
    the crash loop and the log says why) rather than run where a broker loss would lose events."""
    try:
        await runtime.broker.connect([t.name for t in ALL_TOPICS])
    except TopicsMisconfigured as exc:
        log.critical("broker.topics_misconfigured", service=runtime.name, error=str(exc))
        os.kill(os.getpid(), signal.SIGTERM)


async def _check_schema_or_stop(runtime: Runtime) -> None:
    """Before it is ready, check the database is at this code's schema; behind it, stop the process (the log
    says to migrate) rather than fail on every write. A database not reachable yet is waited for."""
    if runtime.migrations is None:
        runtime.schema_checked = True
        return
    delay = 0.5
    while True:
        try:
            revision = await check_at_head(runtime.database, runtime.migrations)
            break
        except SchemaBehind as exc:
            log.critical("service.schema_behind", service=runtime.name, error=str(exc))
            os.kill(os.getpid(), signal.SIGTERM)
            return
        except (OperationalError, DBAPIError, OSError, TimeoutError) as exc:
            log.warning("service.schema_unchecked", service=runtime.name, error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    runtime.schema_checked = True
    log.info("service.schema_checked", service=runtime.name, revision=revision)


def _after(delay_s: float, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
    waited = False

    async def run() -> object:
        nonlocal waited
        if not waited:
            await asyncio.sleep(delay_s)
            waited = True
        return await job()

    return run


def _every(interval_s: float, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def loop() -> None:
        while True:
            await job()
            await asyncio.sleep(interval_s)

    return loop


def _supervised(name: str, run: Callable[[], Awaitable[object]], *, restart: bool = True) -> "asyncio.Task[None]":
    async def supervise() -> None:
        delay = 0.5
        while True:
            try:
                await run()
                if not restart:
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task.crashed", task=name, restart_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    return asyncio.create_task(supervise(), name=name)
