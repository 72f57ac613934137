"""The `scoring` section of the rules file, validated."""

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.vocabulary import ActivityType


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeniorityRule(_Strict):
    """A job-title pattern and the fit points it is worth."""

    name: str
    pattern: str
    points: float

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class FitRules(_Strict):
    """Points for what we know of the person and the company."""

    business_email: float = 25
    free_mail: float = -10
    company_named: float = 15
    phone_given: float = 5
    country_given: float = 5
    seniority: list[SeniorityRule] = Field(default_factory=list)


class ActivityRule(_Strict):
    """Points per activity, the most its kind may add in total, and extra points per minute attended."""

    points: float
    cap: float
    per_minute: float = 0

    @model_validator(mode="after")
    def _cap_has_the_sign_of_points(self) -> "ActivityRule":
        if self.points * self.cap < 0:
            raise ValueError("cap must have the same sign as points")
        return self


class EngagementRules(_Strict):
    """Activity points and how fast they fade."""

    half_life_days: float = Field(30, gt=0)
    activities: dict[ActivityType, ActivityRule]


class Weights(_Strict):
    """How fit and engagement combine into one score."""

    fit: float = Field(0.5, ge=0, le=1)
    engagement: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> "Weights":
        if abs(self.fit + self.engagement - 1) > 1e-9:
            raise ValueError("fit and engagement weights must add up to 1")
        return self


class Segments(_Strict):
    """Combined-score thresholds of the hot and warm segments."""

    hot: float = Field(65, ge=0, le=100)
    warm: float = Field(35, ge=0, le=100)

    @model_validator(mode="after")
    def _hot_above_warm(self) -> "Segments":
        if self.hot <= self.warm:
            raise ValueError("hot must be above warm")
        return self


class ScoringRules(_Strict):
    """Everything the scorer needs to score a lead."""

    weights: Weights = Field(default_factory=Weights)
    segments: Segments = Field(default_factory=Segments)
    mql_threshold: float = Field(55, ge=0, le=100)
    fit: FitRules = Field(default_factory=FitRules)
    engagement: EngagementRules
