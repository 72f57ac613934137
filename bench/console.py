"""The console's cost: a lead's page (three services asked at once, then rendered) beside its baseline, the
slowest single API call it composes, and the worklist page beside the scorer's worklist API. Prints p50 / p99
of N sequential requests each, on a pipeline with the demo's leads.

    .venv/bin/python bench/console.py [--requests 300]
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_TOKEN, broker, fresh_database, start_pipeline
from services.embedded.demo import DEMO_LEADS, send_lead

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def timed(client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int) -> list[float]:
    took = []
    for _ in range(n):
        began = time.perf_counter()
        response = await client.get(url, headers=headers)
        took.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return took


def summary(name: str, took: list[float]) -> tuple[float, float]:
    ordered = sorted(took)
    p50, p99 = statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"  {name:<52} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    return p50, p99


async def measure(urls: dict[str, str], console: str, lead_id: str, n: int) -> None:
    api = {"authorization": f"Bearer {BENCH_TOKEN}"}
    async with httpx.AsyncClient(timeout=30) as client:
        signed = await client.post(f"{console}/login", data={"token": BENCH_TOKEN, "next": "/"})
        page = {"cookie": signed.headers["set-cookie"].split(";")[0]}
        parts = {
            "intake GET /v1/leads/{id}/contact": f"{urls['intake']}/v1/leads/{lead_id}/contact",
            "scorer GET /v1/scores/{id}": f"{urls['scorer']}/v1/scores/{lead_id}",
            "scorer GET /v1/scores/{id}/timeline": f"{urls['scorer']}/v1/scores/{lead_id}/timeline",
            "qualifier GET /v1/leads/{id}": f"{urls['qualifier']}/v1/leads/{lead_id}",
        }
        for url in [*parts.values(), f"{console}/leads/{lead_id}", f"{console}/"]:  # warm every path once
            await client.get(url, headers=api | page)
        print(f"{n} sequential requests each, after one warm-up")
        slowest = max([summary(name, await timed(client, url, api, n)) for name, url in parts.items()])
        composed = summary(
            "console GET /v1/leads/{id} (the four, composed)",
            await timed(client, f"{console}/v1/leads/{lead_id}", api, n),
        )
        page_figures = summary(
            "console GET /leads/{id} (the page)", await timed(client, f"{console}/leads/{lead_id}", page, n)
        )
        worklist_api = summary("scorer GET /v1/worklist", await timed(client, f"{urls['scorer']}/v1/worklist", api, n))
        worklist_page = summary("console GET / (the worklist page)", await timed(client, f"{console}/", page, n))
    print()
    print(
        f"lead page p50 ÷ slowest part p50: {page_figures[0] / slowest[0]:.2f}  (composed JSON: "
        f"{composed[0] / slowest[0]:.2f})"
    )
    print(f"worklist page p50 ÷ worklist API p50: {worklist_page[0] / worklist_api[0]:.2f}")
    figures = {
        "lead_page_p50_ms": round(page_figures[0], 1),
        "lead_page_p99_ms": round(page_figures[1], 1),
        "slowest_part_p50_ms": round(slowest[0], 1),
        "lead_page_ratio": round(page_figures[0] / slowest[0], 2),
        "worklist_page_ratio": round(worklist_page[0] / worklist_api[0], 2),
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with fresh_database() as database_url, broker() as bootstrap:
        pipeline = start_pipeline(database_url, bootstrap, LEADFLOW_WEBHOOK_SECRET_GENERIC=SECRET)
        try:
            console = pipeline.start_console()
            urls = {name: p.url for name, p in pipeline.processes.items()}
            ids = [send_lead(urls["intake"], SECRET, lead).json()["lead_id"] for lead in DEMO_LEADS]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                scored = httpx.get(
                    f"{urls['scorer']}/v1/scores/{ids[0]}", headers={"authorization": f"Bearer {BENCH_TOKEN}"}
                )
                at = httpx.get(
                    f"{urls['qualifier']}/v1/leads/{ids[0]}", headers={"authorization": f"Bearer {BENCH_TOKEN}"}
                )
                if scored.status_code == 200 and at.status_code == 200:
                    break
                time.sleep(0.2)
            asyncio.run(measure(urls, console.url, ids[0], args.requests))
        finally:
            pipeline.stop()


if __name__ == "__main__":
    main()
