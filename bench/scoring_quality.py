"""Scoring quality on the real X Education leads: imported through `leadflow import` into the embedded pipeline,
trained through `POST /v1/model/train`, compared on the very same validation split with a naive Bayes baseline in
the style of Odoo's predictive lead scoring. Not a test: it prints figures.

    .venv/bin/python bench/scoring_quality.py

Capture-time columns only: the import mapping (deploy/imports/xeducation.yaml) does not read Tags, Lead Quality,
Lead Profile, the Asymmetrique indices and scores or Last Notable Activity, and the rules exclude the Lead Number.
"""

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_TOKEN, broker, fresh_database, start_pipeline
from services.rules import DEFAULT_RULES
from services.scorer.commands.training import examples
from services.scorer.domain.features import Features
from services.scorer.domain.model import Example, LeadModel, measure, validation_split
from services.scorer.domain.rules import ScoringRules
from shared.db.database import Database
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.rules import load_rules_section

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LEADFLOW_SHARED_DATA", ROOT.parent / "shared" / "data")) / "xeducation" / "leads.csv"
MAPPING = ROOT / "deploy" / "imports" / "xeducation.yaml"
LEADS = 9240


class OdooNaiveBayes:
    """Frequency tables of won and lost per field value, +0.1 smoothing, as Odoo's predictive lead scoring does."""

    def __init__(self, rows: Sequence[Features], won: Sequence[bool]) -> None:
        self.won_total = sum(won)
        self.lost_total = len(won) - self.won_total
        self.counts: Counter[tuple[str, str, bool]] = Counter()
        for row, outcome in zip(rows, won, strict=True):
            for field, value in row.items():
                self.counts[(field, str(value), outcome)] += 1

    def probabilities(self, rows: Sequence[Features]) -> list[float]:
        out = []
        for row in rows:
            log_won = math.log(self.won_total / (self.won_total + self.lost_total))
            log_lost = math.log(self.lost_total / (self.won_total + self.lost_total))
            for field, value in row.items():
                log_won += math.log((self.counts[(field, str(value), True)] + 0.1) / (self.won_total + 0.1))
                log_lost += math.log((self.counts[(field, str(value), False)] + 0.1) / (self.lost_total + 0.1))
            out.append(1 / (1 + math.exp(log_lost - log_won)))
        return out


def run_import(intake_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "import", str(DATA), "--mapping", str(MAPPING), "--url", intake_url],
        env=dict(os.environ) | {"LEADFLOW_API_TOKEN": BENCH_TOKEN},
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def wait_for_outcomes(scorer_url: str) -> None:
    """Until the scorer has scored every imported lead (the worklist's last page is full)."""
    deadline = time.monotonic() + 600
    with httpx.Client(base_url=scorer_url, headers={"authorization": f"Bearer {BENCH_TOKEN}"}, timeout=30) as client:
        while time.monotonic() < deadline:
            page = client.get("/v1/worklist", params={"limit": 1, "offset": LEADS - 1}).json()
            if page["items"]:
                return
            time.sleep(1)
    raise TimeoutError("the scorer did not score every imported lead within 10 minutes")


async def labelled(database_url: str, rules: ScoringRules) -> list[Example]:
    """The examples the scorer trained on, read the way it reads them."""
    database = Database(database_url, "scorer")
    try:
        return await examples(UnitOfWorkFactory(database), rules)
    finally:
        await database.dispose()


def cross_validated(found: list[Example], *, drop: str | None = None) -> tuple[float, float, float]:
    """5-fold stratified AUC of the model and the baseline (mean), and the model's spread: not one lucky split."""
    rows = [{k: v for k, v in e.features.items() if k != drop} for e in found]
    won = np.array([e.won for e in found])
    model_auc, baseline_auc = [], []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(rows, won):
        fit_rows, test_rows = [rows[i] for i in train], [rows[i] for i in test]
        model = LeadModel.fit(fit_rows, won[train].tolist())
        model_auc.append(measure(won[test].tolist(), model.probabilities(test_rows)).auc)
        baseline = OdooNaiveBayes(fit_rows, won[train].tolist())
        baseline_auc.append(measure(won[test].tolist(), baseline.probabilities(test_rows)).auc)
    return float(np.mean(model_auc)), float(np.std(model_auc)), float(np.mean(baseline_auc))


def main() -> None:
    rules = load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)[0]
    with fresh_database() as database_url, broker() as bootstrap:
        pipeline = start_pipeline(database_url, bootstrap)
        try:
            started = time.monotonic()
            print(f"import: {run_import(pipeline.processes['intake'].url)}")
            wait_for_outcomes(pipeline.processes["scorer"].url)
            print(f"imported and scored in {time.monotonic() - started:.0f} s")
            started = time.monotonic()
            response = httpx.post(
                f"{pipeline.processes['scorer'].url}/v1/model/train",
                headers={"authorization": f"Bearer {BENCH_TOKEN}"},
                timeout=600,
            )
            response.raise_for_status()
            trained = response.json()
            print(f"trained through POST /v1/model/train in {time.monotonic() - started:.0f} s: {trained['decision']}")
            active = httpx.get(
                f"{pipeline.processes['scorer'].url}/v1/model", headers={"authorization": f"Bearer {BENCH_TOKEN}"}
            ).json()["active"]
            found = asyncio.run(labelled(database_url, rules))
        finally:
            pipeline.stop()

    split = validation_split(found, rules.model)
    fit_on = [found[i] for i in split.train]
    check = [found[i] for i in split.validation]
    baseline = OdooNaiveBayes([e.features for e in fit_on], [e.won for e in fit_on])
    baseline_metrics = measure([e.won for e in check], baseline.probabilities([e.features for e in check]))
    metrics = trained["metrics"]
    cv_auc, cv_sd, cv_baseline = cross_validated(found)
    cv_no_last_activity, _, _ = cross_validated(found, drop="answer.last_activity")
    features = active["report"]["features"] if active else None
    print(f"\n{len(found)} leads with outcomes; validation: {split.kind}, {len(check)} leads")
    print(f"{'':34} {'AUC':>7} {'Brier':>7} {'top-decile lift':>16}")
    print(f"{'leadflow model':34} {metrics['auc']:>7.4f} {metrics['brier']:>7.4f} {metrics['top_decile_lift']:>16.2f}")
    print(
        f"{'Odoo-style naive Bayes (+0.1)':34} {baseline_metrics.auc:>7.4f} {baseline_metrics.brier:>7.4f} "
        f"{baseline_metrics.top_decile_lift:>16.2f}"
    )
    rules_figures = trained["rules_score_metrics"]
    print(f"{'rules score alone':34} {rules_figures['auc']:>7.4f} {'':>7} {rules_figures['top_decile_lift']:>16.2f}")
    print(f"\n5-fold stratified AUC: model {cv_auc:.4f} ± {cv_sd:.4f}, baseline {cv_baseline:.4f}")
    print(f"5-fold AUC without Last Activity (partly sales-side values such as 'SMS Sent'): {cv_no_last_activity:.4f}")
    if features:
        print(f"features read: {features}")
    print(
        json.dumps(
            {
                "auc": metrics["auc"],
                "baseline_auc": round(baseline_metrics.auc, 4),
                "brier": metrics["brier"],
                "top_decile_lift": metrics["top_decile_lift"],
                "cv5_auc": round(cv_auc, 4),
                "cv5_baseline_auc": round(cv_baseline, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
