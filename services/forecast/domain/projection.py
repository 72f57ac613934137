"""Roll opportunities up into per-period forecast lines (Salesforce-style cumulative categories)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from shared.events.vocabulary import ForecastCategory, OpportunityStatus


class Period(StrEnum):
    """Length of a forecast period."""

    MONTH = "month"
    QUARTER = "quarter"


@dataclass(frozen=True)
class OpportunityView:
    """What the forecast needs of one opportunity."""

    amount: Decimal
    currency: str
    probability: float
    category: ForecastCategory
    expected_close_date: date
    status: OpportunityStatus


@dataclass(frozen=True)
class ForecastLine:
    """One period in one currency.

    commit ⊂ best case ⊂ pipeline, each including closed won; weighted counts open deals only.
    """

    period: str
    currency: str
    closed_won: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    weighted: Decimal
    open_opportunities: int


def period_key(day: date, period: Period) -> str:
    """`2026-11` for months, `2026-Q4` for quarters."""
    if period is Period.MONTH:
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def period_starts(start: date, period: Period, horizon: int) -> list[date]:
    """First days of `horizon` + 1 consecutive periods starting with the one holding `start` (the last ends them)."""
    step = 1 if period is Period.MONTH else 3
    month_index = start.year * 12 + start.month - 1
    if period is Period.QUARTER:
        month_index -= month_index % 3
    return [date(m // 12, m % 12 + 1, 1) for m in (month_index + i * step for i in range(horizon + 1))]


def periods_before(first_day: date, period: Period, count: int) -> date:
    """The first day of the period `count` periods before the one starting on `first_day`."""
    index = first_day.year * 12 + first_day.month - 1 - count * (1 if period is Period.MONTH else 3)
    return date(index // 12, index % 12 + 1, 1)


def period_keys(start: date, period: Period, horizon: int) -> list[str]:
    """The keys of `horizon` consecutive periods starting with the one holding `start`."""
    return [period_key(day, period) for day in period_starts(start, period, horizon)[:-1]]


def project(opportunities: list[OpportunityView], *, today: date, period: Period, horizon: int) -> list[ForecastLine]:
    """Forecast lines for `horizon` periods from today's; overdue open deals count in the current period."""
    keys = period_keys(today, period, horizon)
    current = keys[0]
    won: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    by_category: dict[tuple[str, str, ForecastCategory], Decimal] = defaultdict(Decimal)
    weighted: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    open_count: dict[tuple[str, str], int] = defaultdict(int)
    currencies: set[str] = set()
    for o in opportunities:
        key = period_key(o.expected_close_date, period)
        if o.status is OpportunityStatus.WON:
            won[(key, o.currency)] += o.amount
            currencies.add(o.currency)
        elif o.status is OpportunityStatus.OPEN and o.category is not ForecastCategory.OMITTED:
            key = max(key, current)  # keys sort chronologically as strings
            by_category[(key, o.currency, o.category)] += o.amount
            weighted[(key, o.currency)] += o.amount * Decimal(str(o.probability))
            open_count[(key, o.currency)] += 1
            currencies.add(o.currency)
    lines = []
    for key in keys:
        for currency in sorted(currencies):
            closed = won[(key, currency)]
            commit = closed + by_category[(key, currency, ForecastCategory.COMMIT)]
            best = commit + by_category[(key, currency, ForecastCategory.BEST_CASE)]
            pipeline = best + by_category[(key, currency, ForecastCategory.PIPELINE)]
            lines.append(
                ForecastLine(
                    period=key,
                    currency=currency,
                    closed_won=closed,
                    commit=commit,
                    best_case=best,
                    pipeline=pipeline,
                    weighted=weighted[(key, currency)].quantize(Decimal("0.01")),
                    open_opportunities=open_count[(key, currency)],
                )
            )
    return lines
