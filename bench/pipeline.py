"""End to end: leads through the signed webhook to a committed stage decision, against the embedded pipeline,
measured beside the best plain endpoint (FastAPI + asyncpg, one autocommit INSERT a request:
bench/plain_insert.py) on the same database in the same run, and the raw transport limit of the same broker.
Not a test: it prints figures and ends with one JSON line.

The headline latency runs to the qualifier's first decision on a lead (it enters the funnel on lead.captured);
a second table follows the lead through the scorer to the qualifier's decision on its score.

With `--rate auto` two steps run: leads offered at the plain endpoint's own rate (the pipeline's end-to-end
throughput, as a ratio of it) and at 40 % of it (the latency a pipeline shows with headroom).

    .venv/bin/python bench/pipeline.py [--leads 3000] [--rate auto|300] [--replicas 2] [--partitions 4]
"""

import argparse
import asyncio
import itertools
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_TOKEN, broker, drive, fresh_database, start_pipeline, start_replicas
from bench.intake import PLAIN_APP, SECRET, baseline_process, bodies, wrk_max, wrk_rate
from services.embedded.broker import free_port
from services.embedded.processes import ServiceProcess
from shared.db.database import Database


async def transport(bootstrap: str, count: int) -> float:
    """aiokafka produce then consume `count` 600-byte messages on a fresh topic: messages a second."""
    topic = f"bench.transport.{os.getpid()}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, enable_idempotence=False)
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topic, key=str(i % 64).encode(), value=b"x" * 600) for i in range(count)]
    await asyncio.gather(*futures)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen = 0
    while seen < count:
        batch = await consumer.getmany(timeout_ms=2000, max_records=5000)
        if not batch:
            break
        seen += sum(len(v) for v in batch.values())
    await consumer.stop()
    return count / (time.perf_counter() - started)


async def send(intake_url: str, leads: int, rate: float, tag: str) -> tuple[int, float]:
    deliveries = bodies(leads, tag)
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as client:

        async def one(i: int) -> bool:
            body, headers = deliveries[i]
            return (await client.post("/v1/webhooks/generic", content=body, headers=headers)).status_code == 202

        result = await drive(one, count=leads, rate=rate)
    return result.accepted, result.accepted_per_s


async def accepted_by_intake(database_url: str, tag: str) -> tuple[int, float]:
    """Leads intake stored for this run, and at what rate (from its own clock)."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT count(*), EXTRACT(EPOCH FROM (max(first_seen_at) - min(first_seen_at))) "
                        f"FROM intake.leads WHERE email LIKE 'bench.{tag}.%'"
                    )
                )
            ).one()
    finally:
        await database.dispose()
    count, span = int(row[0]), float(row[1] or 0)
    return count, count / span if span else 0.0


async def measure(database_url: str, leads: int, tag: str, timeout_s: float = 600) -> dict[str, Any]:
    """Wait for every lead's first stage decision, then read the latencies from the databases' own clocks.

    Only leads whose email carries `tag` count, so the warm-up leads (the first of each service's statements,
    connections and caches) do not.
    """
    mine = f"l.email LIKE 'bench.{tag}.%'"
    database = Database(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            async with database.session() as session:
                staged = await session.scalar(
                    text(
                        "SELECT count(*) FROM qualifier.transitions t JOIN intake.leads l USING (lead_id) "
                        f"WHERE t.from_stage IS NULL AND {mine}"
                    )
                )
            if staged >= leads:
                break
            await asyncio.sleep(0.5)
        async with database.session() as session:
            row = (
                await session.execute(
                    text(f"""
                WITH e2e AS (
                  SELECT EXTRACT(EPOCH FROM (t.changed_at - l.last_seen_at)) * 1000 AS ms, t.changed_at, l.last_seen_at
                  FROM qualifier.transitions t JOIN intake.leads l USING (lead_id)
                  WHERE t.from_stage IS NULL AND {mine})
                SELECT count(*) AS n,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
                       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
                       EXTRACT(EPOCH FROM (max(changed_at) - min(last_seen_at))) AS span_s,
                       EXTRACT(EPOCH FROM (max(changed_at) - max(last_seen_at))) AS drain_s
                FROM e2e""")
                )
            ).one()
            hops = await hop_percentiles(session, CAPTURED_PATH.format(mine=mine))
            scored_path = await hop_percentiles(session, SCORED_PATH.format(mine=mine))
            # This run's leads only: history preloaded beside them has its own counts (three activities a lead).
            counts = (
                await session.execute(
                    text(f"""
                WITH l AS (SELECT lead_id, email FROM intake.leads l WHERE {mine})
                SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM scorer.profiles JOIN l USING (lead_id)),
                       (SELECT count(*) FROM scorer.activities JOIN l USING (lead_id)),
                       (SELECT count(*) FROM qualifier.leads JOIN l USING (lead_id)),
                       (SELECT count(*) FROM qualifier.transitions JOIN l USING (lead_id) WHERE from_stage IS NULL)""")
                )
            ).one()
    finally:
        await database.dispose()
    intake_n, scored, activities, staged_leads, entries = counts
    return {
        "n": row.n,
        "p50": row.p50,
        "p95": row.p95,
        "p99": row.p99,
        "span_s": float(row.span_s or 0),
        "drain_s": float(row.drain_s or 0),
        "lost": max(0, intake_n - staged_leads) + max(0, intake_n - scored),
        "duplicated": max(0, activities - scored) + max(0, entries - staged_leads),
        "hops": hops,
        "scored_path": scored_path,
    }


# Where the time went, hop by hop, from the databases' timestamps: the lead's last_seen_at (parsed), the
# delivery's received_at (in the group transaction, just before its commit), outbox rows' published_at (the
# relay had the broker's ack) and inbox rows' processed_at (the consumer's transaction, at its commit).
CAPTURED_PATH = """
  SELECT EXTRACT(EPOCH FROM (d.received_at - l.last_seen_at)) * 1000 AS "parsed → in intake's group transaction",
         EXTRACT(EPOCH FROM (o.published_at - d.received_at)) * 1000 AS "→ published by intake's relay",
         EXTRACT(EPOCH FROM (i.processed_at - o.published_at)) * 1000 AS "→ applied by the qualifier"
  FROM intake.leads l
  JOIN intake.outbox o ON o.key = l.lead_id AND o.event_type = 'io.leadflow.lead.captured.v1'
  JOIN intake.deliveries d ON d.event_id = o.event_id
  JOIN qualifier.inbox i ON i.event_id = o.event_id
  WHERE {mine}"""
# The decision on the lead's score: captured → scored by the scorer → the qualifier applies lead.scored.
SCORED_PATH = """
  SELECT EXTRACT(EPOCH FROM (si.processed_at - o.published_at)) * 1000 AS "captured → scored (scorer committed)",
         EXTRACT(EPOCH FROM (so.published_at - si.processed_at)) * 1000 AS "→ published by scorer's relay",
         EXTRACT(EPOCH FROM (qi.processed_at - so.published_at)) * 1000 AS "→ applied by the qualifier",
         EXTRACT(EPOCH FROM (qi.processed_at - l.last_seen_at)) * 1000 AS "webhook → decision on the score"
  FROM intake.leads l
  JOIN intake.outbox o ON o.key = l.lead_id AND o.event_type = 'io.leadflow.lead.captured.v1'
  JOIN scorer.inbox si ON si.event_id = o.event_id
  JOIN scorer.outbox so ON so.key = l.lead_id AND so.event_type = 'io.leadflow.lead.scored.v1'
  JOIN qualifier.inbox qi ON qi.event_id = so.event_id
  WHERE {mine}"""


async def hop_percentiles(session: AsyncSession, hops_sql: str) -> dict[str, list[float]]:
    """p50, p95 and p99 (ms) of every column of `hops_sql`, by column name."""
    columns = list((await session.execute(text(f"SELECT * FROM ({hops_sql}) h LIMIT 0"))).keys())
    quantiles = ", ".join(f'percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY h."{c}")' for c in columns)
    row = (await session.execute(text(f"SELECT {quantiles} FROM ({hops_sql}) h"))).one()
    return {column: list(values or [0.0, 0.0, 0.0]) for column, values in zip(columns, row, strict=True)}


class ConsumerSampler:
    """Scrapes every service's /metrics each second while the load runs: events applied and lag per consumer."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._urls = urls
        self._samples: list[tuple[float, dict[str, float], dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.wait(1.0):
                consumed: dict[str, float] = defaultdict(float)
                lag: dict[str, float] = defaultdict(float)
                for url in self._urls.values():
                    try:
                        text = client.get(f"{url}/metrics").text
                    except httpx.HTTPError:
                        continue
                    for name, labels, value in METRIC_LINE.findall(text):
                        consumer = dict(LABEL.findall(labels)).get("consumer", "")
                        if name == "leadflow_events_consumed_total":
                            consumed[consumer] += float(value)
                        elif name == "leadflow_consumer_lag_events":
                            lag[consumer] += float(value)
                self._samples.append((time.monotonic(), consumed, lag))

    def figures(self) -> dict[str, tuple[float, float, float]]:
        """Per consumer: mean events/s while it was busy, the busiest second's rate, and the largest lag."""
        out: dict[str, tuple[float, float, float]] = {}
        consumers = {c for _, consumed, _ in self._samples for c in consumed}
        for consumer in consumers:
            series = [(t, consumed.get(consumer, 0.0), lag.get(consumer, 0.0)) for t, consumed, lag in self._samples]
            rates = [(n2 - n1) / (t2 - t1) for (t1, n1, _), (t2, n2, _) in itertools.pairwise(series) if t2 > t1]
            busy = [r for r in rates if r > 0]
            out[consumer] = (
                sum(busy) / len(busy) if busy else 0.0,
                max(rates, default=0.0),
                max((lag for _, _, lag in series), default=0.0),
            )
        return out


METRIC_LINE = re.compile(
    r"^(leadflow_events_consumed_total|leadflow_consumer_lag_events)\{([^}]*)\} (\S+)$", re.MULTILINE
)
LABEL = re.compile(r'(\w+)="([^"]*)"')


# What else spends the machine's CPU on a lead (process command names; PostgreSQL runs a process per connection).
OTHER_PROGRAMS = {"postgres": "PostgreSQL", "tansu": "broker"}


class CpuMeter:
    """CPU spent from its making on: each service, PostgreSQL, the broker, the load generator, the machine."""

    def __init__(self, services: dict[str, int | None]) -> None:
        self._services = services
        self._before = self._read()
        self._machine = machine_cpu()

    def _read(self) -> dict[str, float]:
        readings = {name: cpu_seconds(pid) for name, pid in self._services.items()}
        for program, seconds in cpu_of_programs(OTHER_PROGRAMS).items():
            readings[OTHER_PROGRAMS[program]] = seconds
        # wrk is this process's child and has been waited for by the time of the second reading.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        readings["load generator"] = children.ru_utime + children.ru_stime
        return readings

    def per_lead_ms(self, leads: int) -> dict[str, float]:
        """Milliseconds of CPU per lead, by consumer of the CPU."""
        after = self._read()
        return {name: 1000 * (after[name] - self._before[name]) / max(1, leads) for name in after}

    def machine_share(self) -> tuple[float, float]:
        """Busy and stolen shares of the machine's CPU time since the meter was made."""
        return machine_share(self._machine, machine_cpu())


def machine_cpu() -> list[int]:
    """The machine's CPU time counters (/proc/stat: user nice system idle iowait irq softirq steal)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def machine_share(before: list[int], after: list[int]) -> tuple[float, float]:
    """Busy and stolen shares of the machine's CPU time between two readings."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta) or 1
    return (total - delta[3] - delta[4]) / total, delta[7] / total


def group_sizes(intake_url: str) -> float:
    """Mean deliveries per group commit, from intake's histogram."""
    text = httpx.get(f"{intake_url}/metrics", timeout=5).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("leadflow_webhook_group_size_"))
    count = float(values.get("leadflow_webhook_group_size_count", 0))
    return float(values.get("leadflow_webhook_group_size_sum", 0)) / count if count else 0.0


def cpu_of_programs(names: Iterable[str]) -> dict[str, float]:
    """CPU seconds used so far by every process whose command is one of `names` (all PostgreSQL backends, say)."""
    totals = dict.fromkeys(names, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        command = raw[raw.index("(") + 1 : raw.rindex(")")]
        if command in totals:
            fields = raw.rsplit(")", 1)[1].split()
            totals[command] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return totals


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Periodic jobs run often during a replica run, so "once per interval" is put to the test in seconds, not hours:
# each job's interval (s) and the setting that sets it.
JOB_INTERVALS_S = {
    "metrics.segments": ("LEADFLOW_GAUGE_REFRESH_S", 2),
    "metrics.stages": ("LEADFLOW_GAUGE_REFRESH_S", 2),
    "metrics.forecast": ("LEADFLOW_GAUGE_REFRESH_S", 2),
    "qualification.stall_check": ("LEADFLOW_STALL_CHECK_S", 2),
    "scores.decay": ("LEADFLOW_RESCORE_INTERVAL_S", 3),
    "retention": ("LEADFLOW_RETENTION_INTERVAL_S", 3),
    "enrichment.facebook": ("LEADFLOW_ENRICHMENT_INTERVAL_S", 2),
    "enrichment.hubspot": ("LEADFLOW_HUBSPOT_ENRICHMENT_INTERVAL_S", 2),
}
CONSUMERS = ("scorer", "qualifier", "forecast")


# Targets (#22), as ratios of the plain endpoint measured in the same run.
E2E_RATIO_TARGET = 0.5
CPU_RATIO_TARGET = 2.5
P99_FIRST_DECISION_TARGET_MS = 250
P99_SCORE_DECISION_TARGET_MS = 400
AUTO_SHARE = 0.4


def measure_plain(database_url: str, seconds: int) -> dict[str, Any]:
    """The plain endpoint flat out (wrk, 32 connections) on this database: requests a second and CPU a request
    (its process and PostgreSQL; the load generator apart)."""
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-plain-"))
    process = baseline_process(PLAIN_APP, free_port(), database_url, workdir / "plain.log")
    process.start()
    try:
        process.wait_ready()
        wrk_max(process.url, "/plain", bodies(500, f"plainwarm{os.getpid()}"), 2)
        meter = CpuMeter({"plain endpoint": process.pid})
        result = wrk_max(process.url, "/plain", bodies(40_000, f"plain{os.getpid()}"), seconds)
        cpu = meter.per_lead_ms(result.accepted)
    finally:
        process.stop()
    return {
        "rps": result.accepted_per_s,
        "p99": result.percentile(99),
        "cpu": cpu,
        "cpu_ms": sum(ms for name, ms in cpu.items() if name != "load generator"),
    }


def run(
    args: argparse.Namespace, replicas: int, *, preload: int = 0, rates: list[tuple[str, float]] | None = None
) -> dict[str, Any]:
    """One measured run on a fresh database and broker; with replicas, a second process of every service joins
    and one replica of each consumer is killed (SIGKILL) half-way through the load; with `preload`, that many
    leads of history are written first. `rates` repeats another run's steps (without, the plain endpoint is
    measured and the steps follow from --rate)."""
    env: dict[str, str] = {
        "LEADFLOW_WEBHOOK_SECRET_GENERIC": SECRET,
        "LEADFLOW_TOPIC_PARTITIONS": str(args.partitions),
        "LEADFLOW_LAG_INTERVAL_S": "1",  # the peak lag is sampled every second
    }
    if replicas > 1:
        env |= {setting: str(seconds) for setting, seconds in JOB_INTERVALS_S.values()}
    with fresh_database() as database_url, broker() as bootstrap:
        plain = measure_plain(database_url, args.plain_seconds) if rates is None else None
        history = load_history(database_url, preload) if preload else {}
        pipeline = start_pipeline(database_url, bootstrap, **env)
        extra = start_replicas(pipeline, bootstrap, replicas)
        jobs = JobSampler(database_url)
        if replicas > 1:
            jobs.start()
        try:
            intake_url = pipeline.processes["intake"].url
            warm = asyncio.run(send(intake_url, 20, 20, f"warm{os.getpid()}{replicas}"))[0]
            asyncio.run(measure(database_url, warm, f"warm{os.getpid()}{replicas}"))
            steps = rates or step_rates(args, plain)
            figures: dict[str, Any] = {"steps": []}
            for index, (step, rate) in enumerate(steps):
                last = index == len(steps) - 1
                meter = CpuMeter({name: p.pid for name, p in pipeline.processes.items()})
                tag = f"e2e{os.getpid()}r{replicas}s{index}"
                sampler = ConsumerSampler({name: p.url for name, p in pipeline.processes.items()})
                sampler.start()
                load_s = args.leads / rate
                killer = threading.Timer(load_s / 2, kill_one_of_each, [extra]) if extra else None
                if killer:
                    killer.start()
                if args.driver == "wrk":
                    # Every lead once, then idle answers (404) while the stragglers finish.
                    seconds = max(2, round(load_s * 1.15) + 2)
                    wrk_rate(intake_url, "/v1/webhooks/generic", bodies(args.leads, tag), rate, seconds)
                    accepted, accepted_per_s = asyncio.run(accepted_by_intake(database_url, tag))
                else:
                    accepted, accepted_per_s = asyncio.run(send(intake_url, args.leads, rate, tag))
                measured = asyncio.run(measure(database_url, accepted, tag))
                sampler.stop()
                measured |= {
                    "step": step,
                    "rate": rate,
                    "accepted_per_s": accepted_per_s,
                    "cpu_ms": meter.per_lead_ms(accepted),
                    "machine": meter.machine_share(),
                    "groups": group_sizes(intake_url),
                    "consumers": sampler.figures(),
                    "replicas": replicas,
                    "jobs": jobs.stop() if replicas > 1 and last else {},
                }
                figures["steps"].append(measured)
            figures |= figures["steps"][-1]
            figures |= {"plain": plain, "preload": preload, "history": history}
            if replicas == 1:
                figures["api"] = asyncio.run(api_latencies(database_url, pipeline, args.api_seconds))
        finally:
            for process in extra:
                process.stop()
            pipeline.stop()
        figures["transport_per_s"] = asyncio.run(transport(bootstrap, args.leads * 4))
    return figures


def step_rates(args: argparse.Namespace, plain: dict[str, Any] | None) -> list[tuple[str, float]]:
    """The offered rates of a run: with `auto`, the plain endpoint's own rate (throughput) then 40 % of it
    (latency with headroom); else the one given."""
    if args.rate != "auto":
        return [(f"{float(args.rate):.0f}/s", float(args.rate))]
    assert plain is not None, "--rate auto measures the plain endpoint first"
    return [("throughput", plain["rps"]), ("latency", AUTO_SHARE * plain["rps"])]


def load_history(database_url: str, leads: int) -> dict[str, int]:
    """Migrate every schema and write `leads` leads of history into it (bench/preload.py)."""
    from bench.preload import preload
    from services.registry import SERVICE_NAMES, service

    for name in SERVICE_NAMES:
        spec = service(name)
        spec.migrate(spec.settings(database_url=database_url))
    began = time.perf_counter()
    rows = asyncio.run(preload(database_url, leads))
    print(f"preloaded {leads} leads of history in {time.perf_counter() - began:.0f} s: {rows}", flush=True)
    return rows


# The read APIs sales and the console use, each asked API_RATE times a second: (service, path).
API_RATE = 20
READ_APIS = {
    "worklist": ("scorer", "/v1/worklist?limit=50"),
    "worklist, hot": ("scorer", "/v1/worklist?segment=hot&limit=50"),
    "lead view": ("qualifier", "/v1/leads/{lead_id}"),
    "leads in mql": ("qualifier", "/v1/leads?stage=mql&limit=50"),
    "forecast": ("forecast", "/v1/forecast?period=quarter&horizon=4"),
    "funnel": ("forecast", "/v1/funnel"),
}


async def api_latencies(database_url: str, pipeline: Any, seconds: float) -> dict[str, tuple[float, float, int]]:
    """p50 and p99 (ms) of each read API at API_RATE requests a second for `seconds`, and the failures."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            lead_ids = list(
                (
                    await session.execute(text("SELECT lead_id FROM qualifier.leads ORDER BY random() LIMIT 500"))
                ).scalars()
            )
    finally:
        await database.dispose()
    out: dict[str, tuple[float, float, int]] = {}
    headers = {"authorization": f"Bearer {BENCH_TOKEN}"}
    # An answer later than 10 s is a failure (a page that slow has been abandoned); the figures still count it.
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for name, (service_name, path) in READ_APIS.items():
            base = pipeline.processes[service_name].url

            async def one(i: int, base: str = base, path: str = path) -> bool:
                url = base + path.format(lead_id=lead_ids[i % len(lead_ids)] if lead_ids else "")
                try:
                    return (await client.get(url)).status_code == 200
                except httpx.HTTPError:  # a timeout: failed, and its latency is the timeout's
                    return False

            count = round(API_RATE * seconds)
            result = await drive(one, count=count, rate=API_RATE)
            out[name] = (result.p50, result.percentile(99), count - result.accepted)
    return out


def kill_one_of_each(extra: list[ServiceProcess]) -> None:
    """SIGKILL one replica of each consuming service, as a node failure would."""
    for process in extra:
        if process.name in CONSUMERS and process.running():
            process.kill()
            print(f"killed {process.name} replica (pid {process.pid}) mid-stream", flush=True)
            CONSUMERS_KILLED.add(process.name)


CONSUMERS_KILLED: set[str] = set()


class JobSampler:
    """Reads every service's job leases four times a second while the pipeline runs, so each run of each job is
    seen with its start time: a job run twice within one interval shows as two starts closer than the interval
    allows (0.9 of it; see shared.db.jobs) or as its run count rising by two between two readings."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._starts: dict[str, set[float]] = defaultdict(set)
        self._doubles: dict[str, int] = defaultdict(int)
        self._runs: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, tuple[int, int]]:
        """Per job: the runs seen, and how many of them came too soon after another."""
        self._stop.set()
        self._thread.join()
        found = {}
        for job, starts in self._starts.items():
            interval = JOB_INTERVALS_S.get(job.split(".", 1)[1], ("", 2))[1]
            ordered = sorted(starts)
            close = sum(1 for a, b in itertools.pairwise(ordered) if b - a < interval * 0.9 - 0.05)
            found[job] = (self._runs.get(job, len(ordered)), close + self._doubles[job])
        return found

    async def _run(self) -> None:
        database = Database(self._url)
        try:
            while not self._stop.is_set():
                async with database.session() as session:
                    for service in ("intake", "scorer", "qualifier", "forecast"):
                        rows = (
                            await session.execute(
                                text(f"SELECT name, runs, EXTRACT(EPOCH FROM started_at) FROM {service}.jobs")
                            )
                        ).all()
                        for name, runs, started in rows:
                            job = f"{service}.{name}"
                            before = self._runs.get(job)
                            if before is not None and runs - before > 1:
                                self._doubles[job] += runs - before - 1
                            self._runs[job] = int(runs)
                            self._starts[job].add(float(started))
                await asyncio.sleep(0.25)
        finally:
            await database.dispose()


def report(run_figures: dict[str, Any]) -> None:
    """The figures of one run, as tables: the plain endpoint, then each step."""
    plain = run_figures.get("plain")
    if plain:
        print(
            f"-- the plain endpoint (FastAPI + asyncpg, one autocommit INSERT) on the same database: "
            f"{plain['rps']:.0f} requests/s, p99 {plain['p99']:.1f} ms, CPU a request "
            + ", ".join(f"{name} {ms:.2f} ms" for name, ms in plain["cpu"].items())
        )
    for figures in run_figures["steps"]:
        figures["e2e_per_s"] = figures["n"] / figures["span_s"] if figures["span_s"] else 0.0
        report_step(figures | {"transport_per_s": run_figures["transport_per_s"]})
    run_figures["e2e_per_s"] = run_figures["steps"][-1]["e2e_per_s"]


def report_step(figures: dict[str, Any]) -> None:
    """The figures of one step, as tables."""
    e2e_per_s = figures["e2e_per_s"]
    print(f"-- {figures['replicas']} replica(s) of each service, step {figures['step']} --")
    print(
        f"{'offered/s':>10} {'accepted/s':>11} {'e2e leads/s':>12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'lost':>5} {'dup':>4} {'transport msg/s':>16}"
    )
    print(
        f"{figures['rate']:>10.0f} {figures['accepted_per_s']:>11.0f} {e2e_per_s:>12.0f} {figures['p50']:>8.0f} "
        f"{figures['p95']:>8.0f} {figures['p99']:>8.0f} {figures['lost']:>5} {figures['duplicated']:>4} "
        f"{figures['transport_per_s']:>16.0f}"
    )
    print(f"drained {figures['drain_s']:.1f} s after the last lead was accepted (every lead staged)")
    for path, title in (
        ("hops", "to the first decision (lead.captured)"),
        ("scored_path", "to the decision on the score"),
    ):
        print(f"{title:<42} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        for hop, (p50, p95, p99) in figures[path].items():
            print(f"  {hop:<40} {p50:>8.0f} {p95:>8.0f} {p99:>8.0f}")
    print(f"{'consumer':<26} {'events/s (mean)':>16} {'events/s (peak 1 s)':>20} {'max lag':>8}")
    for consumer, (mean, peak, lag) in sorted(figures["consumers"].items()):
        print(f"{consumer:<26} {mean:>16.0f} {peak:>20.0f} {lag:>8.0f}")
    print("CPU per lead: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in figures["cpu_ms"].items()))
    busy, steal = figures["machine"]
    print(
        f"machine: {busy:.0%} busy, {steal:.0%} stolen by the host; intake committed {figures['groups']:.1f} "
        "deliveries per transaction on average (the warm-up included)"
    )
    for job, (runs, twice) in sorted(figures["jobs"].items()):
        print(f"  job {job:<40} ran {runs:>4} times over all replicas, {twice} of them within an interval of another")


def versus_plain(baseline: dict[str, Any]) -> dict[str, Any]:
    """The run on empty databases against the plain endpoint and the targets; the summary's figures."""
    plain = baseline["plain"]
    by_step = {step["step"]: step for step in baseline["steps"]}
    throughput = by_step.get("throughput", baseline["steps"][0])
    latency = by_step.get("latency", baseline["steps"][-1])
    e2e_ratio = throughput["e2e_per_s"] / plain["rps"] if plain["rps"] else 0.0
    pipeline_cpu = sum(ms for name, ms in latency["cpu_ms"].items() if name != "load generator")
    cpu_ratio = pipeline_cpu / plain["cpu_ms"] if plain["cpu_ms"] else 0.0
    p99_first = latency["p99"]
    p99_score = latency["scored_path"]["webhook → decision on the score"][2]
    print(
        f"against the plain endpoint ({plain['rps']:.0f}/s, {plain['cpu_ms']:.2f} ms CPU a request) in this run:\n"
        f"  end to end {throughput['e2e_per_s']:.0f} leads/s offered {throughput['rate']:.0f}/s: ratio {e2e_ratio:.2f} "
        f"(target ≥ {E2E_RATIO_TARGET})\n"
        f"  at {latency['rate']:.0f}/s: p99 to the first decision {p99_first:.0f} ms (target ≤ "
        f"{P99_FIRST_DECISION_TARGET_MS}), to the decision on the score {p99_score:.0f} ms (target ≤ "
        f"{P99_SCORE_DECISION_TARGET_MS})\n"
        f"  CPU a lead over every process {pipeline_cpu:.2f} ms: ratio {cpu_ratio:.2f} (target ≤ {CPU_RATIO_TARGET})"
    )
    return {
        "plain_rps": round(plain["rps"], 1),
        "e2e_leads_per_s": round(throughput["e2e_per_s"], 1),
        "e2e_ratio_to_plain": round(e2e_ratio, 3),
        "latency_step_rate": round(latency["rate"], 1),
        "p99_ms_first_decision": round(p99_first, 1),
        "p99_ms_score_decision": round(p99_score, 1),
        "cpu_ms_per_lead": round(pipeline_cpu, 3),
        "plain_cpu_ms_per_request": round(plain["cpu_ms"], 3),
        "cpu_ratio_to_plain": round(cpu_ratio, 3),
        "accepted_per_s": round(latency["accepted_per_s"], 1),
        "p50_ms": round(latency["p50"], 1),
        "drain_s": round(latency["drain_s"], 1),
        "transport_msgs_per_s": round(baseline["transport_per_s"], 1),
        "lost": sum(step["lost"] for step in baseline["steps"]),
        "duplicated": sum(step["duplicated"] for step in baseline["steps"]),
        "replicas": 1,
    }


# Targets (#22) for a pipeline with history: throughput and p99 within 15 % of the empty run, read APIs p99.
GROWTH_TOLERANCE = 0.15
API_P99_TARGET_MS = 200


def versus_empty(empty: dict[str, Any], grown: dict[str, Any]) -> dict[str, Any]:
    """The same steps on history against empty databases, and the read APIs on both."""
    first, last = grown["steps"][0], grown["steps"][-1]
    throughput = first["e2e_per_s"] / empty["steps"][0]["e2e_per_s"] if empty["steps"][0]["e2e_per_s"] else 0.0
    p99 = last["p99"] / empty["steps"][-1]["p99"] if empty["steps"][-1]["p99"] else 0.0
    print(
        f"with {grown['preload']} leads of history against empty databases (target within {GROWTH_TOLERANCE:.0%}):\n"
        f"  end to end {first['e2e_per_s']:.0f} against {empty['steps'][0]['e2e_per_s']:.0f} leads/s: "
        f"ratio {throughput:.2f}; p99 to the first decision {last['p99']:.0f} against "
        f"{empty['steps'][-1]['p99']:.0f} ms: ratio {p99:.2f}"
    )
    print(
        f"{f'read API at {API_RATE}/s':<24} {'empty p50':>10} {'p99':>8} {'history p50':>12} {'p99':>8} {'failed':>7}"
    )
    for name, (p50, p99_ms, failed) in grown["api"].items():
        e50, e99, efailed = empty["api"][name]
        print(f"{name:<24} {e50:>10.1f} {e99:>8.1f} {p50:>12.1f} {p99_ms:>8.1f} {failed + efailed:>7}")
    print(f"(target: p99 ≤ {API_P99_TARGET_MS} ms with history)")
    return {
        "preload": grown["preload"],
        "throughput_ratio_to_empty": round(throughput, 3),
        "p99_ratio_to_empty": round(p99, 3),
        "api_p99_ms": {name: round(p99_ms, 1) for name, (_, p99_ms, _) in grown["api"].items()},
        "api_p99_ms_empty": {name: round(p99_ms, 1) for name, (_, p99_ms, _) in empty["api"].items()},
        "api_failed": sum(f for _, _, f in grown["api"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument(
        "--rate",
        default="auto",
        help="offered leads a second, or auto: the plain endpoint's rate (throughput), then 40 %% of it (latency)",
    )
    parser.add_argument("--plain-seconds", type=int, default=10, help="length of the plain endpoint's max-rate step")
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        help="after the run on empty databases, the same steps again on this many leads of history",
    )
    parser.add_argument("--api-seconds", type=float, default=10, help="how long each read API is asked")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="with 2 or more: a one-replica run first, then every service with this many processes, one replica "
        "of each consumer killed mid-stream",
    )
    parser.add_argument(
        "--partitions", type=int, default=None, help="partitions per topic (default 4 with replicas, else 3)"
    )
    parser.add_argument(
        "--driver",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="wrk (C, sends on a schedule) costs the shared CPUs far less than the Python driver",
    )
    args = parser.parse_args()
    args.partitions = args.partitions or (4 if args.replicas > 1 else 3)
    baseline = run(args, 1)
    report(baseline)
    summary = versus_plain(baseline)
    rates = [(step["step"], step["rate"]) for step in baseline["steps"]]
    if args.preload:
        grown = run(args, 1, preload=args.preload, rates=rates)
        report(grown)
        summary |= versus_empty(baseline, grown)
    else:
        summary["api_p99_ms"] = {name: round(p99, 1) for name, (_, p99, _) in baseline["api"].items()}
    if args.replicas > 1:
        scaled = run(args, args.replicas, rates=rates[-1:])
        report(scaled)
        twice = sum(close for _, close in scaled["jobs"].values())
        ratio = scaled["e2e_per_s"] / baseline["e2e_per_s"] if baseline["e2e_per_s"] else 0.0
        print(
            f"{args.replicas} replicas against 1 on this machine: e2e {scaled['e2e_per_s']:.0f} against "
            f"{baseline['e2e_per_s']:.0f} leads/s (ratio {ratio:.2f}); killed mid-stream: "
            f"{', '.join(sorted(CONSUMERS_KILLED)) or 'none'}"
        )
        summary |= {
            "replicas": args.replicas,
            "lost": baseline["lost"] + scaled["lost"],
            "duplicated": baseline["duplicated"] + scaled["duplicated"],
            "jobs_run_twice": twice,
            "e2e_leads_per_s_replicas": round(scaled["e2e_per_s"], 1),
            "replicas_to_one_ratio": round(ratio, 2),
            "p99_ms_replicas": round(scaled["p99"], 1),
            "killed": sorted(CONSUMERS_KILLED),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
