"""Request and response bodies of the qualifier's HTTP API."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.qualifier.domain.opportunity import Opportunity
from shared.events.vocabulary import ForecastCategory, LeadStage, OpportunityStatus


class TransitionOut(BaseModel):
    """One stage change with who decided it, why, and under which rules."""

    from_stage: LeadStage | None
    to_stage: LeadStage
    reason: str
    decided_by: str
    criteria: list[dict[str, str]]
    rules_version: str
    changed_at: datetime


class LeadOut(BaseModel):
    """A lead's stage, owner, latest score and full history."""

    lead_id: str
    stage: LeadStage
    owner: str | None
    score: float | None
    segment: str | None
    mql: bool
    history: list[TransitionOut]


class OpportunityIn(BaseModel):
    """A rep opens an opportunity for a lead."""

    model_config = ConfigDict(extra="forbid")

    lead_id: UUID
    name: str = Field(min_length=1, max_length=300)
    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")
    expected_close_date: date
    pipeline_stage: str | None = None
    owner: str | None = Field(None, max_length=200)


class OpportunityPatch(BaseModel):
    """Fields a rep may change on an open opportunity; omitted ones stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=300)
    amount: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    expected_close_date: date | None = None
    pipeline_stage: str | None = None
    forecast_category: ForecastCategory | None = None
    probability: float | None = Field(None, ge=0, le=1)
    owner: str | None = Field(None, max_length=200)


class OpportunityClose(BaseModel):
    """Close an opportunity won or lost."""

    model_config = ConfigDict(extra="forbid")

    won: bool
    reason: str | None = Field(None, max_length=2000)
    amount: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    close_date: date | None = None


class OpportunityOut(BaseModel):
    """An opportunity's current state."""

    opportunity_id: UUID
    lead_id: UUID
    revision: int
    name: str
    amount: Decimal
    currency: str
    pipeline_stage: str
    probability: float
    forecast_category: ForecastCategory
    expected_close_date: date
    status: OpportunityStatus
    owner: str | None
    close_reason: str | None
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, o: Opportunity) -> "OpportunityOut":
        """From the domain object."""
        return cls.model_validate(o, from_attributes=True)
