"""Qualifier's settings."""

from shared.settings import ServiceSettings


class QualifierSettings(ServiceSettings):
    """Environment of the qualifier service."""
