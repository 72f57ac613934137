"""Scorer's settings."""

from pydantic import Field

from shared.settings import ServiceSettings


class ScorerSettings(ServiceSettings):
    """Environment of the scorer service."""

    rescore_interval_s: float = Field(3600, gt=0, description="how often decayed scores are recomputed")
    model_refresh_s: float = Field(30, gt=0, description="how often the active model version is checked")
