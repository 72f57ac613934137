"""What the pipeline costs while nothing happens: `make run`'s embedded pipeline (Tansu, SQLite), ready and idle,
metered for a minute: CPU of every process (broker included) and each service's resident memory. Not a test: it
prints figures and ends with one JSON line.

    .venv/bin/python bench/idle.py [--seconds 60] [--settle 15]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import cpu_seconds, machine_cpu, machine_share
from services.embedded.broker import free_port
from services.embedded.dev import EmbeddedPipeline, Printer

# Targets (#22): the whole idle pipeline at most this share of one core, each service process at most this RSS.
CORE_SHARE_TARGET = 0.02
RSS_TARGET_MB = 120


def rss_mb(pid: int | None) -> float:
    """Resident memory of a process (VmRSS), in MiB."""
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to meter the idle pipeline")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after ready before metering starts")
    args = parser.parse_args()
    # `make run`'s default: no DATABASE_URL (SQLite files) and no KAFKA_BOOTSTRAP_SERVERS (embedded Tansu).
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    pipeline = EmbeddedPipeline(Path(tempfile.mkdtemp(prefix="leadflow-idle-")), free_port(), env)
    pipeline.start(log=Printer())
    try:
        time.sleep(args.settle)  # start-up jobs (model load, first gauges, keyed-id adoption) are not idling
        pids = {name: process.pid for name, process in pipeline.processes.items()}
        assert pipeline.broker is not None
        pids["broker"] = pipeline.broker.pid
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        machine = machine_cpu()
        peak_rss = dict.fromkeys(pipeline.processes, 0.0)
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            time.sleep(min(5.0, args.seconds - (time.monotonic() - started)))
            for name in peak_rss:
                peak_rss[name] = max(peak_rss[name], rss_mb(pids[name]))
        elapsed = time.monotonic() - started
        share = {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}
        busy, steal = machine_share(machine, machine_cpu())
        dead = pipeline.dead()
    finally:
        pipeline.stop()
    total = sum(share.values())
    print(f"idle for {elapsed:.0f} s after {args.settle:.0f} s to settle{'; DIED: ' + ', '.join(dead) if dead else ''}")
    print(f"{'process':<10} {'% of a core':>12} {'peak RSS MiB':>13}")
    for name, value in share.items():
        rss = f"{peak_rss[name]:>13.0f}" if name in peak_rss else f"{'':>13}"
        print(f"{name:<10} {value:>12.2%} {rss}")
    print(
        f"{'all':<10} {total:>12.2%}   target ≤ {CORE_SHARE_TARGET:.0%} of one core, ≤ {RSS_TARGET_MB} MiB a service; "
        f"the machine was {busy:.0%} busy ({steal:.0%} stolen)"
    )
    print(
        json.dumps(
            {
                "idle_core_share": round(total, 4),
                "max_service_rss_mb": round(max(peak_rss.values()), 1),
                "per_process_core_share": {name: round(value, 4) for name, value in share.items()},
                "service_rss_mb": {name: round(value, 1) for name, value in peak_rss.items()},
                "seconds": round(elapsed, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
