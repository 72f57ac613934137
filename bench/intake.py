"""Intake throughput: signed webhooks against one intake process, side by side with the best plain endpoint
(FastAPI + asyncpg, one autocommit INSERT per request: bench/plain_insert.py) on the same database, and, for
reference, a FastAPI endpoint that wraps its INSERT in a SQLAlchemy transaction (bench/bare_insert.py). Not a
test: it prints figures.

With wrk installed (Debian's package), fixed offered rates are sent on a schedule (the k-th request k/rate
seconds after the first, whatever the answers' latency) and the max-rate step runs 32 connections flat out, so
the load generator is not what is measured; without it, a Python driver sends open loop (it tops out near
150 requests/s).

    .venv/bin/python bench/intake.py [--count 6000] [--rates 500,1000,1500]
"""

import argparse
import asyncio
import json
import re
import shutil
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LoadResult, broker, drive, fresh_database
from services.embedded.broker import free_port
from services.embedded.processes import ServiceProcess
from services.intake.domain.standard_webhooks import sign
from services.registry import service

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BARE_APP = Path(__file__).with_name("bare_insert.py")
PLAIN_APP = Path(__file__).with_name("plain_insert.py")


def bodies(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """Pre-signed deliveries, each a different person, so signing is not measured."""
    out = []
    for i in range(count):
        body = json.dumps(
            {
                "type": "lead.submitted",
                "data": {
                    "email": f"bench.{tag}.{i}@acme-{i % 97}.com",
                    "first_name": "Bench",
                    "last_name": str(i),
                    "job_title": "VP Operations",
                    "company": f"Acme {i % 97}",
                    "country": "DE",
                },
            }
        ).encode()
        webhook_id = f"msg_{uuid.uuid4().hex}"
        stamp = str(int(time.time()))
        out.append(
            (
                body,
                {
                    "content-type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": stamp,
                    "webhook-signature": sign(SECRET, webhook_id, stamp, body),
                },
            )
        )
    return out


async def load(url: str, path: str, deliveries: list[tuple[bytes, dict[str, str]]], rate: float | None) -> LoadResult:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def send(i: int) -> bool:
            body, headers = deliveries[i]
            try:
                response = await client.post(path, content=body, headers=headers)
            except httpx.HTTPError:
                return False
            return response.status_code == 202

        return await drive(send, count=len(deliveries), rate=rate)


WRK_SCRIPT = Path(__file__).with_name("wrk_deliveries.lua")


def _wrk(
    url: str, path: str, deliveries: list[tuple[bytes, dict[str, str]]], args: list[str], env: dict[str, str]
) -> str:
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as out:
        for body, headers in deliveries:
            out.write(
                json.dumps(
                    {
                        "id": headers["webhook-id"],
                        "ts": headers["webhook-timestamp"],
                        "sig": headers["webhook-signature"],
                        "body": body.decode(),
                    }
                )
                + "\n"
            )
    run = subprocess.run(
        ["wrk", *args, "--latency", "-s", str(WRK_SCRIPT), url],
        env={"WRK_REQUESTS": out.name, "WRK_PATH": path, "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    Path(out.name).unlink()
    return run.stdout


def wrk_max(url: str, path: str, deliveries: list[tuple[bytes, dict[str, str]]], seconds: int) -> LoadResult:
    """As fast as wrk (C, one thread, 32 connections) can send pre-signed deliveries: the server is the limit."""
    text = _wrk(url, path, deliveries, ["-t1", "-c32", f"-d{seconds}s"], {})
    return _wrk_result(text, None)


def wrk_rate(
    url: str, path: str, deliveries: list[tuple[bytes, dict[str, str]]], rate: float, seconds: int
) -> LoadResult:
    """wrk sending the deliveries in order on a schedule at `rate` a second for `seconds` (so the load generator
    costs little CPU and slow answers do not lower the offered rate; 64 connections cover rate × latency up to
    128 ms at 500/s). Past the last delivery it sends requests that answer 404 and are not counted."""
    text = _wrk(url, path, deliveries, ["-t1", "-c64", f"-d{seconds}s"], {"WRK_RATE": str(rate)})
    return _wrk_result(text, rate)


def _wrk_result(text: str, rate: float | None) -> LoadResult:
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    failed = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    elapsed = float(re.search(r"requests in ([\d.]+)s", text).group(1))  # type: ignore[union-attr]
    quantiles = {q: _ms(v) for q, v in re.findall(r"^\s+(50|99)%\s+(\S+)$", text, flags=re.MULTILINE)}
    # wrk reports quantiles, not samples: keep the two it printed as the latency "samples" of this step.
    return LoadResult(
        rate, total, total - failed, elapsed, [quantiles.get("50", 0.0)] * 98 + [quantiles.get("99", 0.0)] * 2
    )


def _ms(value: str) -> float:
    number = float(re.match(r"[\d.]+", value).group())  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[re.sub(r"[\d.]+", "", value)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=4000, help="requests per step")
    parser.add_argument("--rates", default="500,1000", help="offered rates per second; a max-rate step follows")
    parser.add_argument("--seconds", type=int, default=10, help="length of the max-rate step (wrk)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating intake/plain/bare max-rate rounds")
    parser.add_argument("--max-requests", type=int, default=40000, help="distinct deliveries for the max-rate step")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    with fresh_database() as database_url, broker() as bootstrap:
        env = {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LEADFLOW_ENVIRONMENT": "development",  # `serve` takes itself for production unless told
            "LEADFLOW_LOG_LEVEL": "WARNING",
            "LEADFLOW_WEBHOOK_SECRET_GENERIC": SECRET,
            "PATH": "/usr/bin:/bin",
        }
        spec = service("intake")
        spec.migrate(spec.settings(database_url=database_url))
        workdir = Path("/tmp") / f"leadflow-bench-{uuid.uuid4().hex[:6]}"
        intake = ServiceProcess("intake", free_port(), env, workdir / "intake.log")
        plain = baseline_process(PLAIN_APP, free_port(), database_url, workdir / "plain.log")
        bare = baseline_process(BARE_APP, free_port(), database_url, workdir / "bare.log")
        for process in (intake, plain, bare):
            process.start()
        try:
            for process in (intake, plain, bare):
                process.wait_ready()
            endpoints = (
                ("intake", intake.url, "/v1/webhooks/generic"),
                ("plain", plain.url, "/plain"),
                ("bare", bare.url, "/bare"),
            )
            rows = steps(endpoints, rates, args)
        finally:
            for process in (intake, plain, bare):
                process.stop()
    print(f"{'endpoint':<8} {'offered/s':>10} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'ok':>6}")
    for name, r in rows:
        offered = f"{r.offered_per_s:.0f}" if r.offered_per_s else "max"
        print(
            f"{name:<8} {offered:>10} {r.accepted_per_s:>11.0f} {r.p50:>8.1f} {r.percentile(99):>8.1f} {r.accepted:>6}"
        )
    print(json.dumps(summarise(rows, rates)))


def steps(
    endpoints: tuple[tuple[str, str, str], ...], rates: list[float], args: argparse.Namespace
) -> list[tuple[str, LoadResult]]:
    """Each endpoint at each offered rate, then max-rate rounds in turn."""
    rows = []
    for rate in rates:
        for name, url, path in endpoints:
            tag = f"{name}{rate}"
            if shutil.which("wrk"):
                # Deliveries for two seconds more than the step lasts: every request is a real one.
                deliveries = bodies(args.count + round(2 * rate), tag)
                rows.append((name, wrk_rate(url, path, deliveries, rate, max(1, round(args.count / rate)))))
            else:
                rows.append((name, asyncio.run(load(url, path, bodies(args.count, tag), rate))))
    # Max-rate steps in alternating rounds: on a shared (virtual) machine the capacity drifts by tens of per cent
    # within minutes, so each round's results are compared and the median round reported.
    for round_ in range(args.rounds):
        for name, url, path in endpoints:
            tag = f"{name}max{round_}"
            if shutil.which("wrk"):
                rows.append((name, wrk_max(url, path, bodies(args.max_requests, tag), args.seconds)))
            else:
                rows.append((name, asyncio.run(load(url, path, bodies(args.count, tag), None))))
    return rows


def summarise(rows: list[tuple[str, LoadResult]], rates: list[float]) -> dict[str, float]:
    """The median max-rate round against each baseline, and intake's p99 at the first offered rate."""
    steps = {
        name: [r for n, r in rows if n == name and r.offered_per_s is None] for name in ("intake", "plain", "bare")
    }
    summary: dict[str, float] = {}
    for baseline in ("plain", "bare"):
        ratios = [
            i.accepted_per_s / b.accepted_per_s if b.accepted_per_s else 0.0
            for i, b in zip(steps["intake"], steps[baseline], strict=True)
        ]
        middle = sorted(range(len(ratios)), key=lambda k: ratios[k])[len(ratios) // 2]
        print(
            f"ratio intake / {baseline} at max rate, per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
            f"median {ratios[middle]:.2f}"
        )
        summary[f"{baseline}_rps"] = round(steps[baseline][middle].accepted_per_s, 1)
        summary[f"ratio_to_{baseline}"] = round(ratios[middle], 3)
        if baseline == "plain":
            summary["intake_rps"] = round(steps["intake"][middle].accepted_per_s, 1)
    at_rate = next((r for n, r in rows if n == "intake" and rates and r.offered_per_s == rates[0]), None)
    summary["p99_ms"] = round(at_rate.percentile(99), 1) if at_rate else float("nan")
    return {"intake_rps": summary.pop("intake_rps"), **summary}


def baseline_process(app: Path, port: int, database_url: str, log_file: Path) -> ServiceProcess:
    """A baseline endpoint (bench/plain_insert.py or bench/bare_insert.py) served by uvicorn, one process like
    intake."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        f"{app.stem}:app",
        "--app-dir",
        str(app.parent),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return ServiceProcess(app.stem, port, {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}, log_file, command)


if __name__ == "__main__":
    main()
