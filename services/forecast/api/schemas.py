"""Forecast's HTTP schemas: what its routes answer."""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from services.forecast.domain.funnel import Grouping
from services.forecast.domain.projection import Period
from shared.events.vocabulary import LeadStage


class ForecastLineOut(BaseModel):
    """One period in one currency. Categories are cumulative (best case includes commit and closed won)."""

    period: str
    currency: str = Field(description="ISO 4217; amounts in different currencies are never added up")
    closed_won: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    weighted: Decimal = Field(description="open deals: amount × stage probability (closed won not included)")
    win_rate: Decimal = Field(description="closed won + expected from win rates, cycle lengths and new deals")
    p10: Decimal
    p50: Decimal
    p90: Decimal
    open_opportunities: int
    closed_history: int = Field(description="closed deals the win-rate forecast learned from")


class ForecastOut(BaseModel):
    """The projection as of a day, period by period."""

    as_of: date
    period: Period
    lines: list[ForecastLineOut]


class AccuracyOut(BaseModel):
    """How the forecast did on the recent past: each period forecast from its first day with only what was known
    then, compared with what was won (the `leadflow backtest` method)."""

    period: Period
    periods: int = Field(description="the past periods backtested (the current one excluded)")
    scored: int = Field(description="of those, the periods that won revenue and had closed history to learn from")
    mape: dict[str, float] = Field(description="mean absolute percentage error by method (weighted, win_rate, p50)")
    coverage: float = Field(description="share of those periods whose actual fell inside P10-P90")
    start: date
    end: date


class FunnelGroupOut(BaseModel):
    """Funnel KPIs of one group."""

    group: str
    leads: int = Field(description="leads that entered the funnel in the window (the cohort)")
    reached: dict[LeadStage, int]
    conversion: dict[str, float]
    lead_to_customer: float
    won: int
    lost: int
    win_rate: float
    average_deal: float
    median_cycle_days: float | None
    reasons: dict[str, dict[str, int]]
    open_opportunities: int
    velocity_per_day: float = Field(description="open opportunities × win rate × average deal ÷ median cycle days")
    currency: str | None
    handoffs: dict[str, int] = Field(description="hand-offs to owners decided in the window: assigned, accepted, …")
    median_hours_to_accept: float | None = Field(description="from hand-off to the owner's acceptance")
    rejections: dict[str, int] = Field(description="leads sales handed back, by reason")
    days_in_stage: dict[str, dict[str, float]] = Field(
        description="per stage left in the window: median and p90 days spent in it, and how many stays"
    )


class FunnelOut(BaseModel):
    """Funnel KPIs for a window, overall or by group."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    by: Grouping | None
    groups: list[FunnelGroupOut]
