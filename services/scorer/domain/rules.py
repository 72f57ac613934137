"""The `scoring` section of the rules file, validated."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.vocabulary import ActivityType


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TitleRule(_Strict):
    """A job-title pattern (seniority or function) and the fit points it is worth."""

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


class ValuesWorth(_Strict):
    """Points for a value in a list (industries, countries, competitor domains), compared case-insensitively."""

    points: float
    values: list[str] = Field(min_length=1)

    def matches(self, value: str | None) -> bool:
        """Whether the value is one of the listed ones."""
        return value is not None and value.strip().lower() in {v.lower() for v in self.values}


class Band(_Strict):
    """Points for a number within [min, max] (either end open), e.g. an employee count or a revenue."""

    label: str
    points: float
    min: float | None = None
    max: float | None = None

    def contains(self, value: float) -> bool:
        """Whether the number falls in this band."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class FitRules(_Strict):
    """Points for what we know of the person and the company."""

    business_email: float = 25
    free_mail: float = -10
    company_named: float = 15
    phone_given: float = 5
    country_given: float = 5
    seniority: list[TitleRule] = Field(default_factory=list)
    functions: list[TitleRule] = Field(default_factory=list)
    industries: ValuesWorth | None = None
    target_countries: ValuesWorth | None = None
    competitor_domains: ValuesWorth | None = None
    company_size: list[Band] = Field(default_factory=list)
    annual_revenue: list[Band] = Field(default_factory=list)
    revenue_answer: str = "annual_revenue"  # the form answer that carries the company's annual revenue


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
    """Activity points and how fast they fade: halving every `half_life_days`, or linearly to 0 over `linear_days`."""

    decay: Literal["half_life", "linear"] = "half_life"
    half_life_days: float = Field(30, gt=0)
    linear_days: float = Field(90, gt=0)
    activities: dict[ActivityType, ActivityRule]


class ModelRules(_Strict):
    """When and how the predictive model learns from outcomes."""

    min_outcomes: int = Field(200, ge=10)
    min_per_class: int = Field(20, ge=2)
    validation_share: float = Field(0.3, gt=0.05, lt=0.9)
    time_split_min_days: float = Field(28, ge=0)  # outcomes spanning less than this get a stratified split instead
    seed: int = 0
    exclude_features: list[str] = Field(default_factory=list)


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


class Grades(_Strict):
    """The grade grid: fit A-D and engagement 1-4, each with its own thresholds (at or above: the better grade;
    below the last, D or 4)."""

    fit: dict[str, float] = Field(default_factory=lambda: {"A": 75.0, "B": 50.0, "C": 25.0})
    engagement: dict[str, float] = Field(default_factory=lambda: {"1": 75.0, "2": 50.0, "3": 25.0})

    @model_validator(mode="after")
    def _a_falling_threshold_per_grade(self) -> "Grades":
        for axis, steps, grades in (
            ("fit", self.fit, ["A", "B", "C"]),
            ("engagement", self.engagement, ["1", "2", "3"]),
        ):
            if sorted(steps) != grades:
                raise ValueError(f"grades.{axis} needs a threshold for each of {grades}, and only those")
            values = [steps[g] for g in grades]
            if any(not 0 <= v <= 100 for v in values) or values != sorted(set(values), reverse=True):
                raise ValueError(f"grades.{axis} thresholds must fall from {grades[0]} to {grades[-1]}: {steps}")
        return self


class ScoringRules(_Strict):
    """Everything the scorer needs to score a lead."""

    weights: Weights = Field(default_factory=Weights)
    segments: Segments = Field(default_factory=Segments)
    grades: Grades = Field(default_factory=Grades)
    mql_threshold: float = Field(55, ge=0, le=100)
    fit: FitRules = Field(default_factory=FitRules)
    engagement: EngagementRules
    model: ModelRules = Field(default_factory=ModelRules)
