"""Intake's composition root: the one place its parts are wired."""

from pathlib import Path

from fastapi import FastAPI

from services.intake import SERVICE
from services.intake.api.routes import intake_router
from services.intake.metrics import IntakeMetrics
from services.intake.settings import IntakeSettings
from services.intake.webhooks.adapter import WebhookAdapter
from services.intake.webhooks.generic import GenericAdapter
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def build_app(settings: IntakeSettings) -> FastAPI:
    """The intake service, ready to serve."""
    runtime = build_runtime(SERVICE, settings)
    runtime.commit_listeners.append(IntakeMetrics(runtime.metrics).on_commit)
    adapters: dict[str, WebhookAdapter] = {"generic": GenericAdapter(settings.webhook_tolerance_s)}
    router = intake_router(
        runtime.unit_of_work,
        runtime.tokens,
        adapters,
        settings.webhook_secrets(),
        runtime.metrics,
        max_body_bytes=settings.max_body_bytes,
    )
    return create_app(
        runtime,
        [router],
        title="leadflow intake",
        description="Webhook receivers and direct capture; every accepted lead is published as lead.captured.",
    )
