"""Scorer's settings."""

from shared.settings import ServiceSettings


class ScorerSettings(ServiceSettings):
    """Environment of the scorer service."""
