"""Won revenue per period from learned rates: the expected value, and a Monte Carlo range in which each open deal
may be won or lost and may close in this period, a later one or after the horizon (slip), and new deals that do
not exist yet arrive, close and are won at the rates history shows."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from services.forecast.domain.history import Revision, age_days
from services.forecast.domain.learned import Learned, age_bucket, mean_won_amount

SIMULATIONS = 4000


@dataclass(frozen=True)
class Window:
    """One forecast period: [start, end) in days."""

    key: str
    start: date
    end: date


@dataclass(frozen=True)
class Outlook:
    """Won revenue still to come per period key: expected value and P10 / P50 / P90."""

    expected: dict[str, float]
    p10: dict[str, float]
    p50: dict[str, float]
    p90: dict[str, float]


def _offsets(window: Window, moment: datetime) -> tuple[float, float]:
    start = max(0.0, (datetime.combine(window.start, datetime.min.time(), moment.tzinfo) - moment).total_seconds())
    end = max(0.0, (datetime.combine(window.end, datetime.min.time(), moment.tzinfo) - moment).total_seconds())
    return start / 86_400, end / 86_400


def _open_deal_odds(
    deals: Sequence[Revision], learned: Learned, windows: Sequence[Window]
) -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    """Amounts, win probabilities, and per deal the chance to close in each window (last column: after them all)."""
    amounts = np.array([float(d.amount) for d in deals])
    win = np.empty(len(deals))
    close = np.zeros((len(deals), len(windows) + 1))
    offsets = [_offsets(w, learned.moment) for w in windows]
    for i, deal in enumerate(deals):
        age = age_days(deal.opened_at, learned.moment)
        win[i] = learned.win_rates.rate(deal.pipeline_stage, age_bucket(age), deal.source)[0]
        for k, (start, end) in enumerate(offsets):
            close[i, k] = learned.survival.close_within(age, start, end)
        close[i, -1] = max(0.0, 1 - close[i, :-1].sum())
    return amounts, win, close


def _new_deal_wins(learned: Learned, windows: Sequence[Window]) -> list[float]:
    """Expected count of deals opened after the forecast moment and won within each window."""
    s = learned.survival
    expected = []
    for window in windows:
        start, end = _offsets(window, learned.moment)  # the current window starts at 0: now
        # Deals arriving on each day t before the window ends, closing inside it.
        closes = sum((1 - s.at(end - t)) - (1 - s.at(max(0.0, start - t))) for t in np.arange(0.5, max(end, 0.5), 1.0))
        expected.append(learned.arrivals_per_day * closes * learned.new_win_rate)
    return expected


def outlook(
    open_deals: Sequence[Revision],
    learned: Learned,
    windows: Sequence[Window],
    *,
    simulations: int = SIMULATIONS,
    seed: int = 0,
) -> Outlook:
    """What is still to be won in each window, from the deals open at the moment and those yet to come."""
    keys = [w.key for w in windows]
    if not learned.enough:
        zero = dict.fromkeys(keys, 0.0)
        return Outlook(zero, zero, zero, zero)
    amounts, win, close = _open_deal_odds(open_deals, learned, windows)
    new_wins = _new_deal_wins(learned, windows)
    deal_value = mean_won_amount(learned)
    expected = {
        key: float((amounts * win * close[:, k]).sum()) + new_wins[k] * deal_value for k, key in enumerate(keys)
    }
    period_days = float((windows[0].end - windows[0].start).days) if windows else 30.0
    totals = _simulate(amounts, win, close, new_wins, learned, simulations, np.random.default_rng(seed), period_days)
    p10, p50, p90 = np.percentile(totals, [10, 50, 90], axis=0)
    return Outlook(
        expected,
        {key: float(p10[k]) for k, key in enumerate(keys)},
        {key: float(p50[k]) for k, key in enumerate(keys)},
        {key: float(p90[k]) for k, key in enumerate(keys)},
    )


def _simulate(
    amounts: "np.ndarray",
    win: "np.ndarray",
    close: "np.ndarray",
    new_wins: list[float],
    learned: Learned,
    simulations: int,
    rng: np.random.Generator,
    period_days: float,
) -> "np.ndarray":
    """Won revenue per simulation (rows) and window (columns)."""
    windows = close.shape[1] - 1
    totals = np.zeros((simulations, windows))
    # The learned rates drift from month to month; a period of several months averages part of that out.
    months = max(1.0, period_days / 30.4)
    rate_scale = _mean_one(rng, learned.win_cv / math.sqrt(months), simulations)
    arrival_scale = _mean_one(rng, learned.arrival_cv / math.sqrt(months), simulations)
    if len(amounts):
        cumulative = np.cumsum(close, axis=1)
        for start in range(0, simulations, 500):
            n = min(500, simulations - start)
            draws = rng.random((n, len(amounts)))
            period = (draws[:, :, None] > cumulative[None, :, :]).sum(axis=2)  # index of the window it closes in
            won_deal = rng.random((n, len(amounts))) < np.clip(win[None, :] * rate_scale[start : start + n, None], 0, 1)
            for k in range(windows):
                totals[start : start + n, k] += ((period == k) & won_deal) @ amounts
    pool = np.asarray(learned.won_amounts) if learned.won_amounts else np.zeros(1)
    for k, mean_count in enumerate(new_wins):
        counts = rng.poisson(mean_count * arrival_scale * rate_scale)
        picks = pool[rng.integers(0, len(pool), counts.sum())]
        sums = np.bincount(np.repeat(np.arange(simulations), counts), weights=picks, minlength=simulations)
        totals[:, k] += sums
    return totals


def _mean_one(rng: np.random.Generator, cv: float, n: int) -> "np.ndarray":
    """Multipliers with mean 1 and the given coefficient of variation (gamma distributed, never negative)."""
    cv = max(cv, 0.02)
    shape = 1 / cv**2
    return rng.gamma(shape, 1 / shape, n)
