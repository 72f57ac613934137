"""Scorer's composition root."""

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.rules import rules_path
from services.scorer import SERVICE, handlers
from services.scorer.active_model import ActiveModel
from services.scorer.api.routes import scorer_router
from services.scorer.commands.sweeps import rescore_for_decay
from services.scorer.commands.training import train_model
from services.scorer.domain.rules import ScoringRules
from services.scorer.metrics import ScorerMetrics
from services.scorer.settings import ScorerSettings
from shared.rules import load_rules_section
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def load_rules(path: Path) -> tuple[ScoringRules, str]:
    """The `scoring` section of a rules file and the file's version."""
    return load_rules_section(path, "scoring", ScoringRules)


def build_app(settings: ScorerSettings) -> FastAPI:
    """The scorer service, ready to serve."""
    rules, version = load_rules(rules_path(settings.rules))
    runtime = build_runtime(SERVICE, settings, MIGRATIONS)
    model = ActiveModel(runtime.database, settings.model_signer())
    runtime.add_consumer(handlers.subscription(rules, version, model))
    metrics = ScorerMetrics(runtime.metrics, runtime.database, settings.gauge_refresh_s)
    runtime.commit_listeners.append(metrics.on_commit)
    runtime.every("metrics.segments", settings.gauge_refresh_s, metrics.refresh)
    runtime.every("model.refresh", settings.model_refresh_s, model.refresh, each_replica=True)
    runtime.every(
        "scores.decay",
        settings.rescore_interval_s,
        lambda: rescore_for_decay(runtime.unit_of_work, rules, version),
        at_start=False,  # scores were just computed; sweeping every lead at each start is wasted work
    )

    async def train() -> dict[str, Any]:
        return await train_model(runtime.unit_of_work, rules, model)

    return create_app(
        runtime,
        [scorer_router(runtime.database, runtime.tokens, train)],
        title="leadflow scorer",
        description="Fit and engagement scores with decay, segments and MQL crossings, each with its reasons.",
    )
