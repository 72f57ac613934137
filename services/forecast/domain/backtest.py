"""Backtest: stand at the start of each past period with only the history known then, forecast that period, and
compare every method with what was actually won."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from services.forecast.domain.forecasting import forecast
from services.forecast.domain.history import Revision, as_of
from services.forecast.domain.projection import Period, period_key, period_starts
from shared.events.vocabulary import OpportunityStatus

METHODS = ("weighted", "win_rate", "p50")


@dataclass(frozen=True)
class BacktestRow:
    """One period: what each method forecast at its start and what was won."""

    period: str
    currency: str
    actual: Decimal
    weighted: Decimal  # the naive baseline: closed won + amount × stage probability of deals due in the period
    win_rate: Decimal
    p10: Decimal
    p50: Decimal
    p90: Decimal
    open_opportunities: int
    closed_history: int  # closed deals known at the period's start; 0 means nothing to learn from

    @property
    def inside(self) -> bool:
        """Whether the actual fell within P10-P90."""
        return self.p10 <= self.actual <= self.p90

    def error(self, method: str) -> float:
        """Relative error of a method: (forecast - actual) / actual."""
        predicted: Decimal = getattr(self, method)
        return float((predicted - self.actual) / self.actual) if self.actual else 0.0


@dataclass(frozen=True)
class Summary:
    """Accuracy over every backtested period with revenue."""

    mape: dict[str, float]
    coverage: float
    periods: int


def backtest(
    revisions: Sequence[Revision],
    *,
    start: date,
    end: date,
    period: Period,
    simulations: int = 2000,
) -> list[BacktestRow]:
    """Each period starting in [start, end), forecast at its first moment."""
    final = as_of(revisions, datetime.max.replace(tzinfo=UTC))
    won: dict[tuple[str, str], Decimal] = {}
    for r in final:
        if r.status is OpportunityStatus.WON:
            won_in = (period_key(r.closed_on, period), r.currency)
            won[won_in] = won.get(won_in, Decimal(0)) + r.amount
    currencies = sorted({r.currency for r in final})
    zero = Decimal(0)
    rows = []
    for first_day in _starts(start, end, period):
        moment = datetime.combine(first_day, datetime.min.time(), UTC)
        made = {
            f.line.currency: f
            for f in forecast(as_of(revisions, moment), moment, period=period, horizon=1, simulations=simulations)
        }
        key = period_key(first_day, period)
        for currency in currencies:
            f = made.get(currency)
            actual = won.get((key, currency), zero)
            if f is None:  # nothing existed yet in this currency
                rows.append(BacktestRow(key, currency, actual, zero, zero, zero, zero, zero, 0, 0))
                continue
            rows.append(
                BacktestRow(
                    period=key,
                    currency=currency,
                    actual=actual,
                    weighted=f.line.closed_won + f.line.weighted,
                    win_rate=f.win_rate,
                    p10=f.p10,
                    p50=f.p50,
                    p90=f.p90,
                    open_opportunities=f.line.open_opportunities,
                    closed_history=f.closed_history,
                )
            )
    return rows


def summarise(rows: Sequence[BacktestRow]) -> Summary:
    """MAPE of each method and the share of actuals inside P10-P90, over periods that won anything and had closed
    history before them to learn from."""
    scored = [r for r in rows if r.actual > 0 and r.closed_history > 0]
    if not scored:
        return Summary(dict.fromkeys(METHODS, 0.0), 0.0, 0)
    mape = {m: sum(abs(r.error(m)) for r in scored) / len(scored) for m in METHODS}
    return Summary(mape, sum(r.inside for r in scored) / len(scored), len(scored))


def _starts(start: date, end: date, period: Period) -> list[date]:
    days = []
    first = period_starts(start, period, 1)[0]
    if first < start:
        first = period_starts(start, period, 2)[1]
    while first < end:
        days.append(first)
        first = period_starts(first, period, 2)[1]
    return days
