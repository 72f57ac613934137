"""Forecast's composition root."""

from pathlib import Path

from fastapi import FastAPI

from services.forecast import SERVICE, handlers
from services.forecast.api.routes import forecast_router
from services.forecast.metrics import ForecastMetrics
from services.forecast.settings import ForecastSettings
from shared.runtime import build_runtime, create_app

MIGRATIONS = Path(__file__).with_name("migrations")


def build_app(settings: ForecastSettings) -> FastAPI:
    """The forecast service, ready to serve."""
    runtime = build_runtime(SERVICE, settings, MIGRATIONS)
    runtime.add_consumer(handlers.subscription())
    gauges = ForecastMetrics(runtime.metrics, runtime.database, settings.gauge_refresh_s)
    runtime.every("metrics.forecast", settings.gauge_refresh_s, gauges.refresh)
    return create_app(
        runtime,
        [forecast_router(runtime.database, runtime.tokens)],
        title="leadflow forecast",
        description="Revenue projections by period from the qualifier's opportunity events.",
    )
