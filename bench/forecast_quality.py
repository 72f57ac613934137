"""Forecast quality on the real Maven CRM opportunity history: each deal becomes the opportunity.opened and
opportunity.closed events the qualifier would emit, published to the embedded pipeline's broker and consumed by
the forecast service; then the history is backtested by quarter (and by month, for more periods to judge the
range by). Not a test: it prints figures.

    .venv/bin/python bench/forecast_quality.py [--chart backtest.png]

Amounts: won deals carry their close value; lost and open deals have none in the data, so they carry the
product's list price from products.csv (the pipeline's `GTXPro` is products.csv's `GTX Pro`).
"""

import argparse
import asyncio
import csv
import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import broker, fresh_database, start_pipeline
from services.cli.backtest_report import chart, table
from services.forecast.domain.backtest import backtest, summarise
from services.forecast.domain.history import Revision
from services.forecast.domain.projection import Period
from services.forecast.persistence import repository
from shared.db.database import Database
from shared.events.envelope import encode, new_event
from shared.events.models import OpportunityClosed, OpportunityOpened, OpportunitySnapshot
from shared.events.topics import OPPORTUNITIES
from shared.events.vocabulary import ForecastCategory, OpportunityStatus
from shared.ids import lead_id_for_external

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LEADFLOW_SHARED_DATA", ROOT.parent / "shared" / "data")) / "maven_crm"
PRODUCT_ALIASES = {"GTXPro": "GTX Pro"}  # the pipeline's spelling → products.csv's
STAGE, PROBABILITY, CYCLE_DAYS = "discovery", 0.4, 60  # what the default rules give an engaged, unscored deal


def _day(text: str) -> datetime | None:
    # Noon: an "as of" midnight must not see that day's events.
    return datetime.strptime(text, "%m/%d/%Y").replace(hour=12, tzinfo=UTC) if text else None


def events(report: Counter[str]) -> list[OpportunitySnapshot]:
    """The opened and closed snapshots of every engaged deal; what was odd in the data goes to `report`."""
    prices = {r["product"]: Decimal(r["sales_price"]) for r in csv.DictReader((DATA / "products.csv").open())}
    sectors = Counter(r["sector"] for r in csv.DictReader((DATA / "accounts.csv").open()))
    if "technolgy" in sectors:
        report[f"accounts.csv spells a sector 'technolgy' ({sectors['technolgy']} accounts; not used here)"] += 1
    out: list[OpportunitySnapshot] = []
    for row in csv.DictReader((DATA / "sales_pipeline.csv").open()):
        engaged, closed = _day(row["engage_date"]), _day(row["close_date"])
        if engaged is None:
            report["prospecting deals without an engage date: never in the pipeline, skipped"] += 1
            continue
        product = PRODUCT_ALIASES.get(row["product"], row["product"])
        if product != row["product"]:
            report[f"product {row['product']!r} read as {product!r}"] += 1
        if not row["account"]:
            report["opportunities without an account (kept; the account is not needed)"] += 1
        list_price = prices[product]
        lead_id = lead_id_for_external("maven_crm", row["opportunity_id"])
        common = {
            "lead_id": lead_id,
            "opportunity_id": uuid.uuid5(lead_id, "opportunity"),
            "name": f"{row['account'] or 'unknown account'}: {product}",
            "currency": "USD",
            "pipeline_stage": STAGE,
            "probability": PROBABILITY,
            "forecast_category": ForecastCategory.PIPELINE,
            "expected_close_date": (engaged + timedelta(days=CYCLE_DAYS)).date(),
            "owner": row["sales_agent"],
            "source": "maven_crm",
            "opened_at": engaged,
        }
        out.append(
            OpportunityOpened(
                **common, revision=1, amount=list_price, status=OpportunityStatus.OPEN, changed_at=engaged
            )
        )
        if closed is not None:
            won = row["deal_stage"] == "Won"
            if not won:
                report["lost deals valued at list price"] += 1
            out.append(
                OpportunityClosed(
                    **common,
                    revision=2,
                    amount=Decimal(row["close_value"]) if won else list_price,
                    status=OpportunityStatus.WON if won else OpportunityStatus.LOST,
                    changed_at=closed,
                    closed_at=closed,
                )
            )
        else:
            report["open deals valued at list price"] += 1
    return out


async def publish(bootstrap: str, snapshots: list[OpportunitySnapshot]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False)
    await producer.start()
    try:
        sent = [
            await producer.send(
                OPPORTUNITIES.name, key=str(s.lead_id).encode(), value=encode(new_event(s, source="/bench"))
            )
            for s in snapshots
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def consumed(database_url: str, expected: int, timeout_s: float = 600) -> list[Revision]:
    """The revisions in the forecast's database, once all of them are there."""
    database = Database(database_url, "forecast")
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            async with database.session() as session:
                found = await repository.revisions(session)
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1)
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chart", type=Path, help="draw the quarterly backtest into this PNG")
    parser.add_argument("--simulations", type=int, default=2000)
    args = parser.parse_args()
    report: Counter[str] = Counter()
    snapshots = events(report)
    with fresh_database() as database_url, broker() as bootstrap:
        pipeline = start_pipeline(database_url, bootstrap)
        try:
            started = time.monotonic()
            asyncio.run(publish(bootstrap, snapshots))
            history = asyncio.run(consumed(database_url, len(snapshots)))
            print(
                f"{len(history)} of {len(snapshots)} revisions consumed by the forecast in "
                f"{time.monotonic() - started:.0f} s"
            )
        finally:
            pipeline.stop()
    for line, count in sorted(report.items()):
        print(f"  data: {line}: {count}")
    print()
    quarterly = backtest(
        history, start=date(2017, 1, 1), end=date(2018, 1, 1), period=Period.QUARTER, simulations=args.simulations
    )
    summary = summarise(quarterly)
    print("Backtest by quarter (forecast made at the first moment of each quarter, history known then only)")
    print(table(quarterly, summary))
    monthly = backtest(
        history, start=date(2017, 1, 1), end=date(2018, 1, 1), period=Period.MONTH, simulations=args.simulations
    )
    monthly_summary = summarise(monthly)
    print("\nBacktest by month (more periods to judge the P10-P90 range by)")
    print(table(monthly, monthly_summary))
    if args.chart:
        print(f"chart: {chart(quarterly, args.chart, 'Maven CRM: quarterly backtest')}")
    print(
        json.dumps(
            {
                "mape": round(summary.mape["win_rate"], 4),
                "baseline_mape": round(summary.mape["weighted"], 4),
                "p50_mape": round(summary.mape["p50"], 4),
                "p10_p90_coverage": round(summary.coverage, 3),
                "quarters": summary.periods,
                "monthly_mape": round(monthly_summary.mape["win_rate"], 4),
                "monthly_baseline_mape": round(monthly_summary.mape["weighted"], 4),
                "monthly_p10_p90_coverage": round(monthly_summary.coverage, 3),
                "months": monthly_summary.periods,
            }
        )
    )


if __name__ == "__main__":
    main()
