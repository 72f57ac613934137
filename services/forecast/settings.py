"""Forecast's settings."""

from shared.settings import ServiceSettings


class ForecastSettings(ServiceSettings):
    """Environment of the forecast service."""
