"""Scorer's composition root."""

from pathlib import Path

from fastapi import FastAPI

from services.rules import rules_path
from services.scorer import SERVICE
from services.scorer.api.routes import scorer_router
from services.scorer.domain.rules import ScoringRules
from services.scorer.handlers import ScorerHandlers
from services.scorer.metrics import ScorerMetrics
from services.scorer.settings import ScorerSettings
from shared.events.topics import LEADS_INTAKE
from shared.rules import load_rules_section
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def build_app(settings: ScorerSettings) -> FastAPI:
    """The scorer service, ready to serve."""
    rules, version = load_rules_section(rules_path(settings.rules), "scoring", ScoringRules)
    runtime = build_runtime(SERVICE, settings)
    handlers = ScorerHandlers(rules, version)
    runtime.add_consumer([LEADS_INTAKE], handlers.registry())
    metrics = ScorerMetrics(runtime.metrics, runtime.database)
    runtime.commit_listeners.append(metrics.on_commit)
    runtime.every("metrics.segments", settings.gauge_refresh_s, metrics.refresh)
    return create_app(
        runtime,
        [scorer_router(runtime.database, runtime.tokens)],
        title="leadflow scorer",
        description="Fit and engagement scores with decay, segments and MQL crossings, each with its reasons.",
    )
