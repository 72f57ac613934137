"""Intake's composition root: the one place its parts are wired."""

from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware

from services.intake import SERVICE
from services.intake.api.erasure import erasure_router
from services.intake.api.group_commit import AcceptBatcher
from services.intake.api.identity import identity_router
from services.intake.api.imports import imports_router
from services.intake.api.quarantine import quarantine_router
from services.intake.api.routes import intake_router
from services.intake.api.webhook_lane import WebhookLane
from services.intake.api.webhook_receiver import WebhookReceiver
from services.intake.commands.enrichment import Enricher, GraphLeadFetcher, HubSpotContactFetcher, LeadFetcher
from services.intake.commands.imports.runner import ImportWorkers
from services.intake.commands.lead_ids import adopt
from services.intake.commands.quarantine import KINDS, Quarantine
from services.intake.domain import identity
from services.intake.domain.mapping import FieldMapping
from services.intake.metrics import IntakeMetrics
from services.intake.persistence.retention import intake_retention
from services.intake.settings import IntakeSettings
from services.intake.webhooks.registry import build_adapters
from services.rules import rules_path
from shared.http.rate_limit import RateLimiter
from shared.rules import load_rules_section
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def build_app(settings: IntakeSettings) -> FastAPI:
    """The intake service, ready to serve."""
    mapping, _ = load_rules_section(rules_path(settings.rules), "intake", FieldMapping)
    identity.configure(mapping.identity)
    runtime = build_runtime(SERVICE, settings, MIGRATIONS)
    # Ids are derived as before until this process has adopted the installation's secret (lead_ids.adopt).
    identity.use_keyed_ids(None)
    if settings.lead_id_key is not None:
        secret = settings.lead_id_key.get_secret_value().strip().encode()
        runtime.on_start.append(lambda: adopt(runtime.database, secret))
    metrics = IntakeMetrics(runtime.metrics, [*settings.webhook_secrets(), "api"])
    runtime.commit_listeners.append(metrics.on_commit)
    adapters = build_adapters(settings, mapping)
    quarantine = Quarantine(runtime.unit_of_work, runtime.metrics)
    for provider in settings.webhook_secrets():  # at 0 from the start, so the first one shows in increase()
        for kind in KINDS:
            quarantine.held.labels(provider, kind)
    http = httpx.AsyncClient()
    token = settings.facebook_access_token.get_secret_value() if settings.facebook_access_token else None
    hubspot_token = settings.hubspot_access_token.get_secret_value() if settings.hubspot_access_token else None
    fetchers: dict[str, LeadFetcher] = {
        "facebook": GraphLeadFetcher(
            settings.facebook_graph_url,
            token,
            http,
            settings.webhook_secret_facebook.get_secret_value() if settings.webhook_secret_facebook else None,
        ),
        "hubspot": HubSpotContactFetcher(settings.hubspot_api_url, hubspot_token, http),
    }
    enrichers = {
        provider: Enricher(
            runtime.unit_of_work, provider, fetcher, mapping, quarantine, max_attempts=settings.enrichment_max_attempts
        )
        for provider, fetcher in fetchers.items()
    }
    runtime.every("enrichment.facebook", settings.enrichment_interval_s, enrichers["facebook"].run_once)
    runtime.every("enrichment.hubspot", settings.hubspot_enrichment_interval_s, enrichers["hubspot"].run_once)
    runtime.retention.extend(intake_retention(settings))

    receiver = WebhookReceiver(
        adapters,
        # SQLite has one writer at a time: a second group in flight would only wait for (or fail on) its lock.
        AcceptBatcher(runtime.unit_of_work, metrics.group_size, max_in_flight=1 if runtime.database.is_sqlite else 2),
        quarantine,
        runtime.metrics,
        max_body_bytes=settings.max_body_bytes,
        provider_limiter=RateLimiter(settings.rate_limit_per_provider, int(settings.rate_limit_per_provider * 2)),
        failure_limiter=RateLimiter(settings.rate_limit_failed_signatures, 30),
    )
    router = intake_router(runtime.unit_of_work, runtime.tokens, receiver)
    workers = ImportWorkers(runtime.unit_of_work)
    # Imports whose runner stopped (a restart, a crash, a replica gone) go on where they were.
    runtime.every("imports.resume", settings.import_resume_interval_s, workers.resume_stale)
    imports = imports_router(runtime.unit_of_work, runtime.tokens, workers)
    held = quarantine_router(quarantine, runtime.tokens, adapters)
    return create_app(
        runtime,
        [
            router,
            imports,
            held,
            identity_router(runtime.unit_of_work, runtime.tokens),
            erasure_router(runtime.unit_of_work, runtime.tokens),
        ],
        inner_middleware=[Middleware(WebhookLane, receiver=receiver)],
        # An import's file (and its multipart framing) may be larger than any other body.
        body_limits={"/v1/imports": settings.max_import_bytes + 65_536},
        title="leadflow intake",
        description="Webhook receivers for forms and webinar tools, direct capture and bulk import; every "
        "accepted lead is published as lead.captured, every engagement as lead.activity.",
    )
