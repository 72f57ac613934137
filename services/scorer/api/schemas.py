"""The scorer's HTTP schemas: what its routes answer."""

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, Field

from shared.events.models import ScoreFactor
from shared.events.vocabulary import Segment


class ScoreOut(BaseModel):
    """A lead's current scores and every factor behind them (model factors in log-odds)."""

    lead_id: str
    name: str | None = None
    email: str | None = None
    job_title: str | None = None
    company: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = Field(None, validation_alias=AliasChoices("campaign", "utm_campaign"))
    fit: float
    engagement: float
    score: float
    segment: Segment
    grade: str | None = Field(None, description="fit A-D × engagement 1-4 (A1: the best fit, the most engaged)")
    mql: bool
    probability: float | None = None
    model_version: int | None = None
    owner: str | None = None
    handoff_status: str | None = Field(None, description="pending, accepted, rejected or breached")
    handoff_due_at: datetime | None = Field(None, description="when the owner's SLA to accept runs out")
    activity_count: int
    factors: list[ScoreFactor]
    rules_version: str
    scored_at: datetime
    merged_into: str | None = Field(
        None, description="the lead this one is merged into: its score is frozen, and it counts for that lead"
    )


class ActivityOut(BaseModel):
    """Something the lead did, as engagement counts it."""

    activity_type: str
    occurred_at: datetime
    minutes: float | None = None
    lead_id: str = Field(description="the lead it was recorded for: another one when it was merged into this")


class TimelineOut(BaseModel):
    """What a lead did, newest first, with what the leads merged into it did."""

    lead_id: str
    items: list[ActivityOut]


class WorklistOut(BaseModel):
    """One page of leads, best first: by predicted conversion when a model is active, then by score; merged leads
    are left out (they count for the lead they were merged into)."""

    items: list[ScoreOut]
    limit: int
    offset: int


class ModelVersionOut(BaseModel):
    """A trained version: its status and validation report (AUC, Brier, top-decile lift, what it had to beat)."""

    version: int
    status: str
    trained_at: datetime
    algorithm: str
    report: dict[str, Any]


class ModelOut(BaseModel):
    """The model in use and the newest versions."""

    active: ModelVersionOut | None
    versions: list[ModelVersionOut]


class TrainingOut(BaseModel):
    """A training run's outcome."""

    version: int
    status: str
    activated: bool
    decision: str
    metrics: dict[str, float]
    rules_score_metrics: dict[str, float]
    active_model_metrics: dict[str, float] | None
    split: str
    training_examples: int
    validation_examples: int
    won: int
    repredicted_leads: int | None = None
