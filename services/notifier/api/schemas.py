"""Notifier's HTTP schemas."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SubscriptionIn(BaseModel):
    """Where to send which events, in which format."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/leadflow",
                    "event_types": ["lead.scored"],
                    "filters": {"segment": "hot"},
                    "description": "hot leads into the CRM",
                },
                {
                    "url": "https://hooks.slack.com/services/T000/B000/XXXX",
                    "event_types": ["opportunity.closed"],
                    "filters": {"status": "won"},
                    "format": "slack",
                    "description": "#wins",
                },
            ]
        },
    )

    url: str = Field(min_length=8, max_length=2000, description="https:// (http:// only in development and test)")
    event_types: list[str] = Field(
        min_length=1,
        max_length=10,
        description="lead.scored, lead.stage_changed, lead.handoff_changed, opportunity.opened, opportunity.updated, "
        "opportunity.closed",
    )
    filters: dict[str, str] = Field(
        default_factory=dict,
        max_length=10,
        description="all must match; on lead.scored `segment` matches when the lead enters it, `mql=true` when "
        "it crosses the threshold; lead.stage_changed: stage, from_stage, owner, source; opportunity.*: status, "
        "forecast_category, pipeline_stage, currency, owner, source",
    )
    format: Literal["standard", "slack"] = Field(
        "standard", description="standard: a Standard Webhooks JSON body, signed; slack: {text} for a chat channel"
    )
    secret: str | None = Field(None, max_length=200, description="whsec_…; generated when left out")
    description: str | None = Field(None, max_length=500)


class SubscriptionOut(BaseModel):
    """A subscription and its endpoint's queue."""

    subscription_id: str
    url: str
    event_types: list[str]
    filters: dict[str, str]
    format: str
    description: str | None
    created_by: str
    created_at: datetime
    pending: int = Field(description="deliveries waiting in this endpoint's queue")
    failures: int = Field(description="failed attempts in a row")
    failing_since: datetime | None
    next_attempt_at: datetime | None
    disabled_at: datetime | None = Field(description="set after a day of failures (or a 410 Gone); enable by hand")
    disabled_reason: str | None


class SubscriptionCreated(SubscriptionOut):
    """A new subscription, with its secret: shown this once, to verify the signatures with."""

    secret: str


class AttemptOut(BaseModel):
    """One try of a delivery."""

    attempted_at: datetime
    status: int | None = Field(description="the HTTP status; null when no answer came")
    error: str | None
    latency_ms: float


class DeliveryOut(BaseModel):
    """One event for one endpoint, with every attempt."""

    delivery_id: int
    event_id: str
    event_type: str
    lead_id: str
    status: Literal["pending", "delivered"]
    created_at: datetime
    attempts: int
    last_status: int | None
    last_error: str | None
    latency_ms: float | None
    delivered_at: datetime | None
    tries: list[AttemptOut]


class ReplayIn(BaseModel):
    """Which deliveries to send again: one, or those queued in a time range."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    delivery_id: int | None = Field(None, ge=1)
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _one_or_a_range(self) -> "ReplayIn":
        if self.delivery_id is None and self.start is None and self.end is None:
            raise ValueError("give delivery_id, or from and/or to")
        if self.delivery_id is not None and (self.start or self.end):
            raise ValueError("give delivery_id or a time range, not both")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("from must be before to")
        return self


class ReplayOut(BaseModel):
    """How many deliveries were queued again."""

    requeued: int
