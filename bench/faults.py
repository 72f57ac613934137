"""Every fault in one run, under a stream of leads: each consumer SIGKILLed and restarted, PostgreSQL restarted,
the embedded broker lost entirely (Tansu keeps nothing) and recovered with `leadflow replay`. Then every
service's database is counted against the accepted set. Not a test: it prints its counts.

    .venv/bin/python bench/faults.py [--leads 10000] [--replicas 2]

Needs the local PostgreSQL cluster (pg_ctlcluster) and the embedded broker; binds to 127.0.0.1 only.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fresh_database, start_pipeline, start_replicas
from services.embedded.broker import EmbeddedBroker, free_port
from services.embedded.processes import ServiceProcess
from services.intake.domain.standard_webhooks import sign
from shared.ids import lead_id_for
from shared.messaging.kafka_options import TopicShape

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONSUMERS = ("scorer", "qualifier", "forecast")


def delivery(email: str) -> tuple[bytes, dict[str, str]]:
    """A signed Standard Webhooks delivery, signed when sent so a long outage cannot make it stale."""
    body = json.dumps(
        {"type": "lead.submitted", "data": {"email": email, "job_title": "Head of Sales", "company": "Faultline"}}
    ).encode()
    webhook_id, stamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    return body, {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": sign(SECRET, webhook_id, stamp, body),
    }


class Stream:
    """Sends every lead like a provider does: retried until accepted (a 503 or a refused connection is retried)."""

    def __init__(self, intake_url: str, emails: list[str]) -> None:
        self.url = f"{intake_url}/v1/webhooks/generic"
        self.emails = emails
        self.sent = 0
        self.retries: dict[str, int] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            for email in self.emails:
                body, headers = delivery(email)
                while True:
                    try:
                        status = client.post(self.url, content=body, headers=headers).status_code
                    except httpx.HTTPError:
                        status = 0
                    if status == 202:
                        break
                    self.retries[str(status)] = self.retries.get(str(status), 0) + 1
                    time.sleep(0.25)
                self.sent += 1

    def wait_for(self, share: float) -> None:
        target = int(len(self.emails) * share)
        while self.sent < target:
            time.sleep(0.05)


def restart_postgres() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120)


def counts(database_url: str, ids: list[str]) -> dict[str, int]:
    """Rows per service for exactly these leads (psql: the bench does not share the services' pools)."""
    values = ",".join(f"('{i}')" for i in ids)
    queries = {
        "intake leads": "SELECT count(*) FROM intake.leads l JOIN x USING (lead_id)",
        "intake lead.captured": "SELECT count(*) FROM intake.outbox o JOIN x ON o.key = x.lead_id "
        "WHERE o.event_type LIKE '%captured%'",
        "scorer profiles": "SELECT count(*) FROM scorer.profiles p JOIN x USING (lead_id)",
        "scorer activities": "SELECT count(*) FROM scorer.activities a JOIN x USING (lead_id)",
        "scorer lead.scored": "SELECT count(*) FROM scorer.outbox o JOIN x ON o.key = x.lead_id",
        "qualifier leads": "SELECT count(*) FROM qualifier.leads q JOIN x USING (lead_id)",
        "qualifier funnel entries": "SELECT count(*) FROM qualifier.transitions t JOIN x USING (lead_id) "
        "WHERE t.from_stage IS NULL",
        "forecast lead stages": "SELECT count(*) FROM forecast.lead_stages s JOIN x USING (lead_id)",
    }
    sql = "".join(f"WITH x(lead_id) AS (VALUES {values}) {q};\n" for q in queries.values())
    out = subprocess.run(
        ["psql", database_url.replace("postgresql+asyncpg", "postgresql"), "-At", "-v", "ON_ERROR_STOP=1"],
        input=sql,  # 10,000 ids do not fit on a command line
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return dict(zip(queries, (int(v) for v in out), strict=True))


def settle(database_url: str, ids: list[str], timeout_s: float = 900) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = counts(database_url, ids)
        complete = all(found[k] >= len(ids) for k in ("scorer profiles", "qualifier leads", "forecast lead stages"))
        if complete or time.monotonic() > deadline:
            return found
        time.sleep(2)


def restart(process: ServiceProcess) -> None:
    process.start()
    process.wait_ready()


def stop_all(processes: list[ServiceProcess]) -> None:
    for process in processes:
        process.stop()


def restart_all(processes: list[ServiceProcess]) -> None:
    for process in processes:
        restart(process)


def replay(name: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "services.cli", "replay", name], env=env, check=True, capture_output=True, timeout=300
    )


def step(log: list[str], started: float, what: str, action: Callable[..., object] | None = None, *args: object) -> None:
    at = time.monotonic() - started
    if action is not None:
        action(*args)
    log.append(f"{at:7.1f} s  {what} ({time.monotonic() - started - at:.1f} s)")
    print(log[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument(
        "--replicas", type=int, default=1, help="processes per service; the extra consumers are SIGKILLed too"
    )
    args = parser.parse_args()
    emails = [f"fault.{i}.{os.getpid()}@faultline-{i % 11}.com" for i in range(args.leads)]
    ids = [str(lead_id_for(e)) for e in emails]
    log: list[str] = []
    with fresh_database() as database_url:
        broker = EmbeddedBroker(free_port(), topics=TopicShape())  # comes back with its topics (see _make_topics)
        broker.start()
        env = {"LEADFLOW_WEBHOOK_SECRET_GENERIC": SECRET}
        if args.replicas > 1:
            env["LEADFLOW_TOPIC_PARTITIONS"] = "4"
        pipeline = start_pipeline(database_url, broker.bootstrap_servers, **env)
        extra = start_replicas(pipeline, broker.bootstrap_servers, args.replicas)
        extra_consumers = [p for p in extra if p.name in CONSUMERS]
        started = time.monotonic()
        try:
            stream = Stream(pipeline.processes["intake"].url, emails)
            stream.thread.start()
            for i, name in enumerate(CONSUMERS):
                process = pipeline.processes[name]
                stream.wait_for(0.05 + 0.1 * i)
                step(log, started, f"kill -9 {name}", process.kill)
                stream.wait_for(0.1 + 0.1 * i)
                step(log, started, f"restart {name}", restart, process)
            for process in extra_consumers:  # the other replica takes its partitions over
                stream.wait_for(0.35)
                step(log, started, f"kill -9 {process.name} (second replica)", process.kill)
            stream.wait_for(0.45)
            step(log, started, "restart PostgreSQL", restart_postgres)
            stream.wait_for(0.6)
            consumers = [pipeline.processes[name] for name in CONSUMERS] + extra_consumers
            step(log, started, "lose the broker (stop Tansu: every topic and offset gone)", broker.stop)
            step(log, started, "stop the consumers (runbook)", stop_all, consumers)
            stream.wait_for(0.75)
            step(log, started, "start an empty broker at the same address", broker.start)
            step(log, started, "start the consumers", restart_all, consumers)
            stream.thread.join()
            step(log, started, f"all {args.leads} leads accepted")
            replay_env = dict(os.environ) | {
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            }
            for name in ("intake", "scorer", "qualifier"):
                step(log, started, f"leadflow replay {name}", replay, name, replay_env)
            found = settle(database_url, ids)
            step(log, started, "every service settled")
        finally:
            stop_all(extra)
            pipeline.stop()
            broker.stop()
    report(found, len(ids), stream, round(time.monotonic() - started, 1), args.replicas)


def report(found: dict[str, int], expected: int, stream: Stream, seconds: float, replicas: int) -> None:
    """Every service's count against the accepted set, then the JSON line."""
    print(f"\n{'count':<28} {'found':>7} {'expected':>9}")
    for name, value in found.items():
        print(f"{name:<28} {value:>7} {expected:>9}{'' if value == expected else '   <-'}")
    lost = sum(max(0, expected - v) for v in found.values())
    duplicated = sum(max(0, v - expected) for v in found.values())
    print(f"retried deliveries by status: {stream.retries or 'none'}")
    print(
        json.dumps(
            {
                "leads": expected,
                "replicas": replicas,
                "lost": lost,
                "duplicated": duplicated,
                "seconds": seconds,
                "retried_deliveries": sum(stream.retries.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
