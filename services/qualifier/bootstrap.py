"""Qualifier's composition root."""

from pathlib import Path

from fastapi import FastAPI

from services.qualifier import SERVICE, handlers
from services.qualifier.api.routes import qualifier_router
from services.qualifier.commands.handoff import Handoffs
from services.qualifier.commands.opportunities import OpportunityCommands
from services.qualifier.commands.qualification import Qualifier
from services.qualifier.domain.rules import OpportunityRules, QualificationRules, QualifierRules, RoutingRules
from services.qualifier.metrics import QualifierMetrics
from services.qualifier.settings import QualifierSettings
from services.rules import rules_path
from shared.rules import load_rules_section
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def load_rules(path: Path) -> QualifierRules:
    """The qualifier's sections of a rules file; the version is the qualification section's."""
    qualification, version = load_rules_section(path, "qualification", QualificationRules)
    routing, routing_version = load_rules_section(path, "routing", RoutingRules)
    opportunities, _ = load_rules_section(path, "opportunities", OpportunityRules)
    return QualifierRules(
        qualification=qualification,
        routing=routing,
        opportunities=opportunities,
        version=f"{version}/{routing_version.rsplit('+', 1)[-1]}",
    )


def build_app(settings: QualifierSettings) -> FastAPI:
    """The qualifier service, ready to serve."""
    rules = load_rules(rules_path(settings.rules))
    runtime = build_runtime(SERVICE, settings, MIGRATIONS)
    qualifier = Qualifier(runtime.unit_of_work, rules)
    runtime.add_consumer(handlers.subscription(qualifier))
    metrics = QualifierMetrics(runtime.metrics, runtime.database, settings.gauge_refresh_s)
    runtime.commit_listeners.append(metrics.on_commit)
    runtime.every("metrics.stages", settings.gauge_refresh_s, metrics.refresh)
    runtime.on_start.append(qualifier.sync_owners)
    runtime.every("qualification.stall_check", settings.stall_check_s, qualifier.sweep_stalled)
    commands = OpportunityCommands(runtime.unit_of_work, rules)
    handoffs = Handoffs(runtime.unit_of_work, qualifier)
    runtime.every("qualification.handoff_sla", settings.handoff_check_s, handoffs.sweep)
    return create_app(
        runtime,
        [qualifier_router(runtime.database, runtime.tokens, commands, qualifier, handoffs)],
        title="leadflow qualifier",
        description="Three-stage qualification, pain-interest-fit and BANT as data; the stage machine, routing "
        "and the opportunity lifecycle. Every move is explained and emitted.",
    )
