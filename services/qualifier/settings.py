"""Qualifier's settings."""

from pydantic import Field

from shared.settings import ServiceSettings


class QualifierSettings(ServiceSettings):
    """Environment of the qualifier service."""

    stall_check_s: float = Field(3600, gt=0, le=86_400)
    handoff_check_s: float = Field(60, gt=0, le=3600, description="how often hand-offs past their SLA are breached")
