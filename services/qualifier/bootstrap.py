"""Qualifier's composition root."""

from pathlib import Path

from fastapi import FastAPI

from services.qualifier import SERVICE
from services.qualifier.api.routes import qualifier_router
from services.qualifier.domain.rules import OpportunityRules
from services.qualifier.handlers import QualifierHandlers
from services.qualifier.metrics import QualifierMetrics
from services.qualifier.service import OpportunityCommands
from services.qualifier.settings import QualifierSettings
from services.rules import rules_path
from shared.events.topics import LEADS_INTAKE, LEADS_SCORES
from shared.rules import load_rules_section
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def build_app(settings: QualifierSettings) -> FastAPI:
    """The qualifier service, ready to serve."""
    rules, version = load_rules_section(rules_path(settings.rules), "opportunities", OpportunityRules)
    runtime = build_runtime(SERVICE, settings)
    handlers = QualifierHandlers(version)
    runtime.add_consumer([LEADS_INTAKE, LEADS_SCORES], handlers.registry())
    metrics = QualifierMetrics(runtime.metrics, runtime.database)
    runtime.commit_listeners.append(metrics.on_commit)
    runtime.every("metrics.stages", settings.gauge_refresh_s, metrics.refresh)
    commands = OpportunityCommands(runtime.unit_of_work, rules, version)
    return create_app(
        runtime,
        [qualifier_router(runtime.database, runtime.tokens, commands)],
        title="leadflow qualifier",
        description="The lead stage machine and the opportunity lifecycle; every move is explained and emitted.",
    )
