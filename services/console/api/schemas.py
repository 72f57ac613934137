"""The console's JSON: one lead as composed from the services."""

from typing import Any

from pydantic import BaseModel, Field


class LeadViewOut(BaseModel):
    """A lead as the people who work it see it: each part as the service that owns it answers (see
    docs/openapi/<service>.json), null when that service does not know the lead or is not answering."""

    lead_id: str
    name: str = Field(description="the person's name, or their email when no name is known")
    contact: dict[str, Any] | None = Field(description="intake: GET /v1/leads/{id}/contact")
    score: dict[str, Any] | None = Field(description="scorer: GET /v1/scores/{id}")
    timeline: list[dict[str, Any]] = Field(description="scorer: GET /v1/scores/{id}/timeline, newest first")
    qualification: dict[str, Any] | None = Field(description="qualifier: GET /v1/leads/{id}")
    unavailable: dict[str, str] = Field(description="parts left out because their service is not answering")
