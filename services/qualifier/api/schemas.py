"""Request and response bodies of the qualifier's HTTP API."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.qualifier.domain.opportunity import Opportunity
from shared.events.models import CriterionResult
from shared.events.vocabulary import CriterionOutcome, ForecastCategory, LeadStage, OpportunityStatus


class TransitionOut(BaseModel):
    """One stage change with who decided it, why, the criteria behind it, and under which rules."""

    from_stage: LeadStage | None
    to_stage: LeadStage
    reason: str
    decided_by: str
    criteria: list[CriterionResult]
    rules_version: str
    changed_at: datetime


class FrameworkOut(BaseModel):
    """A framework's current verdict on the lead, stage by stage and criterion by criterion."""

    framework: str
    passed: bool
    stages: dict[str, CriterionOutcome]
    criteria: list[CriterionResult]


class EvidenceOut(BaseModel):
    """A piece of evidence a rep recorded."""

    key: str
    value: Any
    note: str | None
    recorded_by: str
    recorded_at: datetime


class LeadSummary(BaseModel):
    """A lead in a list: who it is, where it came from, where it stands."""

    lead_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    company: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    stage: LeadStage
    owner: str | None
    team: str | None
    score: float | None
    segment: str | None
    probability: float | None = Field(None, description="predicted conversion, when the scorer has a model")
    mql: bool
    stage_changed_at: datetime
    handoff_status: str | None = Field(
        None, description="pending (the owner has not accepted yet), accepted, rejected or breached (SLA missed)"
    )
    handoff_at: datetime | None = None
    handoff_due_at: datetime | None = Field(None, description="when the SLA runs out (working hours, by segment)")


class LeadOut(LeadSummary):
    """A lead's stage, owner, latest score, current framework results, evidence and full history."""

    merged_into: str | None = Field(
        None, description="the lead this one is merged into (lead.merged): it is left out of lists and counts there"
    )

    frameworks: list[FrameworkOut]
    evidence: list[EvidenceOut]
    history: list[TransitionOut]
    opportunities: list["OpportunityOut"] = Field(default_factory=list, description="newest first")
    reject_reasons: list[str] = Field(default_factory=list, description="what a rejection may say (the rules' list)")


class LeadPage(BaseModel):
    """One page of leads."""

    items: list[LeadSummary]
    limit: int
    offset: int


class EvidenceIn(BaseModel):
    """What a rep learned: pain, budget, authority, timeline_days, need, product, …; null withdraws a key."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "evidence": {
                        "pain": "quotes take two days",
                        "budget": 40000,
                        "authority": True,
                        "timeline_days": 60,
                    },
                    "note": "discovery call with the VP Sales",
                }
            ]
        },
    )

    evidence: dict[str, str | float | bool | None] = Field(min_length=1, max_length=50)
    note: str | None = Field(None, max_length=2000)

    @field_validator("evidence")
    @classmethod
    def _keys_are_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
                raise ValueError(f"evidence key {key!r} must be snake_case, like pain or timeline_days")
        return value


class HandoffRejection(BaseModel):
    """The owner hands a lead back, saying why (one of the rules' reasons) and, if they like, more."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "no_budget", "note": "frozen until Q3"}]}
    )

    reason: str = Field(min_length=1, max_length=100)
    note: str | None = Field(None, max_length=2000)


class StageOverride(BaseModel):
    """A rep moves a lead by hand along a legal transition, saying why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"stage": "nurture", "reason": "no budget until next fiscal year"}]},
    )

    stage: LeadStage
    reason: str = Field(min_length=3, max_length=2000)


class OwnerOut(BaseModel):
    """An owner, the team, whether still active, and the open leads held."""

    owner: str
    team: str
    active: bool
    load: int
    removed_at: datetime | None


class Reassigned(BaseModel):
    """How many leads a removed owner's departure moved."""

    owner: str
    reassigned: int


class OpportunityIn(BaseModel):
    """A rep opens an opportunity for a lead."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lead_id": "0b3f6c1e-5d2a-4f7e-9a41-2c8d7e6f5a10",
                    "name": "Analytical Engines: 50 seats",
                    "amount": "48000.00",
                    "currency": "EUR",
                    "expected_close_date": "2027-03-31",
                }
            ]
        },
    )

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
    revision: int | None = Field(
        None, ge=1, description="the revision this change was made from; refused with 409 if it has changed since"
    )


class OpportunityClose(BaseModel):
    """Close an opportunity won or lost."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"won": True, "reason": "chosen over the incumbent on routing", "revision": 3}]
        },
    )

    won: bool
    reason: str | None = Field(None, max_length=2000)
    amount: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    close_date: date | None = None
    revision: int | None = Field(
        None, ge=1, description="the revision the rep decided on; refused with 409 if it has changed since"
    )


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


LeadOut.model_rebuild()
