"""A forecast as of a moment: category roll-ups and weighted pipeline beside the learned win-rate forecast and its
Monte Carlo range, per period and currency, from the history as it stood then."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.forecast.domain.history import Revision
from services.forecast.domain.learned import learn
from services.forecast.domain.outlook import SIMULATIONS, Window, outlook
from services.forecast.domain.projection import (
    ForecastLine,
    OpportunityView,
    Period,
    period_keys,
    period_starts,
    project,
)
from shared.events.vocabulary import OpportunityStatus

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Forecast:
    """One period in one currency: the roll-ups and the learned forecast with its range."""

    line: ForecastLine
    win_rate: Decimal  # closed won so far + expected from learned win rates, cycle lengths and arrivals
    p10: Decimal
    p50: Decimal
    p90: Decimal
    closed_history: int  # closed deals the rates were learned from (0: no forecast beyond what is already won)


def view_of(r: Revision) -> OpportunityView:
    """A revision as the category roll-up reads it; closed deals count in the period they closed."""
    return OpportunityView(
        amount=r.amount,
        currency=r.currency,
        probability=r.probability,
        category=r.category,
        expected_close_date=r.closed_on if r.status is not OpportunityStatus.OPEN else r.expected_close_date,
        status=r.status,
    )


def forecast(
    states: Sequence[Revision],
    moment: datetime,
    *,
    period: Period,
    horizon: int,
    simulations: int = SIMULATIONS,
) -> list[Forecast]:
    """Every period from the one holding `moment`, for `horizon` periods, in each currency."""
    lines = project([view_of(s) for s in states], today=moment.date(), period=period, horizon=horizon)
    starts = period_starts(moment.date(), period, horizon)
    keys = period_keys(moment.date(), period, horizon)
    windows = [Window(key, a, b) for key, a, b in zip(keys, starts[:-1], starts[1:], strict=True)]
    outlooks = {}
    history = {}
    for currency in {line.currency for line in lines}:
        mine = [s for s in states if s.currency == currency]
        still_open = [s for s in mine if s.status is OpportunityStatus.OPEN]
        learned = learn(mine, moment)
        outlooks[currency] = outlook(still_open, learned, windows, simulations=simulations)
        history[currency] = learned.closed_deals
    out = []
    for line in lines:
        o = outlooks[line.currency]
        out.append(
            Forecast(
                line,
                win_rate=_money(line.closed_won, o.expected[line.period]),
                p10=_money(line.closed_won, o.p10[line.period]),
                p50=_money(line.closed_won, o.p50[line.period]),
                p90=_money(line.closed_won, o.p90[line.period]),
                closed_history=history[line.currency],
            )
        )
    return out


def _money(closed: Decimal, still_to_come: float) -> Decimal:
    return (closed + Decimal(str(round(still_to_come, 2)))).quantize(_CENT)
