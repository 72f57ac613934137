"""Notifier's composition root."""

from pathlib import Path

from fastapi import FastAPI

from services.notifier import SERVICE, handlers
from services.notifier.api.routes import notifier_router
from services.notifier.commands.delivery import Deliverer
from services.notifier.commands.subscriptions import Subscriptions
from services.notifier.metrics import NotifierMetrics
from services.notifier.settings import NotifierSettings
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def build_app(settings: NotifierSettings) -> FastAPI:
    """The notifier service, ready to serve."""
    runtime = build_runtime(SERVICE, settings, MIGRATIONS)
    runtime.add_consumer(handlers.subscription(settings.console_url))
    metrics = NotifierMetrics(runtime.metrics, runtime.database, settings.gauge_refresh_s)
    runtime.every("metrics.notifier", settings.gauge_refresh_s, metrics.refresh)
    deliverer = Deliverer(runtime.database, settings, metrics)
    # Every replica delivers; an endpoint is served by one at a time (commands/delivery.py).
    runtime.every("notifier.deliver", settings.delivery_interval_s, deliverer.tick, each_replica=True)
    runtime.on_stop.append(deliverer.close)
    plain_http = settings.allow_plain_http or settings.environment != "production"
    return create_app(
        runtime,
        [notifier_router(runtime.database, runtime.tokens, Subscriptions(runtime.unit_of_work, plain_http=plain_http))],
        title="leadflow notifier",
        description="Signed webhooks (Standard Webhooks) and chat messages for systems that do not read Kafka.",
    )
