"""What closed history teaches: how long deals take to close (Kaplan-Meier, open deals censored), how often they
are won (by stage, age and source, backing off to coarser groups where history is thin), how fast new deals
arrive and what a won deal is worth."""

import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean, pstdev

from services.forecast.domain.history import Revision, age_days
from shared.events.vocabulary import OpportunityStatus

AGE_BUCKETS = (30, 60, 90, 180)  # days; a deal older than the last bucket is "180+"
MIN_GROUP = 30  # closed deals a group needs before its own win rate is trusted
ARRIVAL_WINDOW_DAYS = 30  # the recent run-rate: on the Maven backtest 30 days tracked ramps better than 60 or 90
VARIABILITY_MONTHS = 6


def age_bucket(days: float) -> str:
    """`0-30`, `31-60`, …, `180+`."""
    low = 0
    for high in AGE_BUCKETS:
        if days <= high:
            return f"{low}-{high}"
        low = high + 1
    return f"{AGE_BUCKETS[-1]}+"


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier survival of time to close: S(t) = share of deals still open after t days."""

    times: tuple[float, ...]  # event times, ascending
    survival: tuple[float, ...]  # S just after each event time

    @classmethod
    def fit(cls, closed_after: Sequence[float], open_for: Sequence[float]) -> "Survival":
        """Closed deals are events at their cycle length; open deals are censored at their age."""
        events = Counter(round(t, 3) for t in closed_after)
        censored = Counter(round(t, 3) for t in open_for)
        at_risk = len(closed_after) + len(open_for)
        s = 1.0
        times, values = [], []
        for t in sorted(set(events) | set(censored)):
            d = events.get(t, 0)
            if d and at_risk:
                s *= 1 - d / at_risk
                times.append(t)
                values.append(s)
            at_risk -= d + censored.get(t, 0)
        return cls(tuple(times), tuple(values))

    def at(self, t: float) -> float:
        """S(t)."""
        i = bisect.bisect_right(self.times, t)
        return 1.0 if i == 0 else self.survival[i - 1]

    def close_within(self, age: float, start: float, end: float) -> float:
        """P(a deal open at `age` closes between `start` and `end` days from now)."""
        alive = self.at(age)
        if alive <= 0:
            return 0.0  # open longer than any deal in history took to close: history gives it no chance
        return max(0.0, (self.at(age + start) - self.at(age + end)) / alive)


@dataclass(frozen=True)
class WinRates:
    """Won ÷ closed by (stage, age bucket, source), with back-off to (stage, age), (stage) and overall."""

    rates: dict[tuple[str | None, ...], tuple[int, int]]  # key → (won, closed)

    @classmethod
    def fit(cls, closed: Sequence[tuple[str, str, str | None, bool]]) -> "WinRates":
        """From (stage, age bucket, source, won) of every closed deal."""
        rates: dict[tuple[str | None, ...], tuple[int, int]] = {}
        for stage, bucket, source, won in closed:
            for key in ((stage, bucket, source), (stage, bucket), (stage,), ()):
                w, n = rates.get(key, (0, 0))
                rates[key] = (w + won, n + 1)
        return cls(rates)

    def rate(self, stage: str, bucket: str, source: str | None) -> tuple[float, str]:
        """The win rate of the most specific group with enough history, and which group that was."""
        for key, name in (
            ((stage, bucket, source), "stage, age and source"),
            ((stage, bucket), "stage and age"),
            ((stage,), "stage"),
            ((), "all deals"),
        ):
            won, closed = self.rates.get(key, (0, 0))
            if closed >= MIN_GROUP:
                return won / closed, name
        won, closed = self.rates.get((), (0, 0))
        return (won / closed if closed else 0.0), "all deals"


@dataclass(frozen=True)
class Learned:
    """Everything a forecast made at `moment` may know from the history before it."""

    moment: datetime
    survival: Survival
    win_rates: WinRates
    arrivals_per_day: float  # new opportunities a day over the last ARRIVAL_WINDOW_DAYS
    won_amounts: tuple[float, ...]  # amounts of recently won deals (new business is valued by these)
    closed_deals: int
    arrival_cv: float  # month-to-month variation of arrivals: how far the run-rate may be off
    win_cv: float  # month-to-month variation of the win rate

    @property
    def enough(self) -> bool:
        """Whether there is any closed history to learn from."""
        return self.closed_deals > 0

    @property
    def new_win_rate(self) -> float:
        """Win rate of a deal that does not exist yet: the youngest age group, else overall."""
        rates = [
            (won, closed)
            for key, (won, closed) in self.win_rates.rates.items()
            if len(key) == 2 and key[1] == age_bucket(0)
        ]
        won, closed = (sum(w for w, _ in rates), sum(n for _, n in rates)) if rates else (0, 0)
        if closed >= MIN_GROUP:
            return won / closed
        won, closed = self.win_rates.rates.get((), (0, 0))
        return won / closed if closed else 0.0


def learn(states: Sequence[Revision], moment: datetime) -> Learned:
    """Learn from the pipeline as it stood at `moment` (the output of `history.as_of`)."""
    closed = [r for r in states if r.status is not OpportunityStatus.OPEN]
    still_open = [r for r in states if r.status is OpportunityStatus.OPEN]
    cycle = [age_days(r.opened_at, r.closed_at or r.changed_at) for r in closed]
    survival = Survival.fit(cycle, [age_days(r.opened_at, moment) for r in still_open])
    win_rates = WinRates.fit(
        [
            (r.pipeline_stage, age_bucket(t), r.source, r.status is OpportunityStatus.WON)
            for r, t in zip(closed, cycle, strict=True)
        ]
    )
    window_start = moment - timedelta(days=ARRIVAL_WINDOW_DAYS)
    first_open = min((r.opened_at for r in states), default=moment)
    window_days = max(1.0, (moment - max(window_start, first_open)).total_seconds() / 86_400)
    arrivals = sum(1 for r in states if r.opened_at > window_start)
    recent_won = sorted(
        (r for r in closed if r.status is OpportunityStatus.WON), key=lambda r: r.closed_at or r.changed_at
    )[-1000:]
    return Learned(
        moment=moment,
        survival=survival,
        win_rates=win_rates,
        arrivals_per_day=arrivals / window_days,
        won_amounts=tuple(float(r.amount) for r in recent_won),
        closed_deals=len(closed),
        arrival_cv=_monthly_cv([r.opened_at for r in states], moment, lambda _: 1.0),
        win_cv=_monthly_cv(
            [r.closed_at or r.changed_at for r in closed],
            moment,
            lambda i: float(closed[i].status is OpportunityStatus.WON),
            rate=True,
        ),
    )


def _monthly_cv(
    moments: Sequence[datetime], now: datetime, value: Callable[[int], float], *, rate: bool = False
) -> float:
    """Coefficient of variation over the last full months of a count (or, with `rate`, of a mean)."""
    months: dict[tuple[int, int], list[float]] = {}
    current = (now.year, now.month)
    for i, at in enumerate(moments):
        month = (at.year, at.month)
        if month < current:
            months.setdefault(month, []).append(value(i))
    recent = sorted(months)[-VARIABILITY_MONTHS:]
    series = [fmean(months[m]) if rate else sum(months[m]) for m in recent]
    if len(series) < 3 or not fmean(series):
        return 0.25  # too little history to say: assume a quarter either way
    return pstdev(series) / fmean(series)


def mean_won_amount(learned: Learned) -> float:
    """What a new won deal is worth, on recent history."""
    return fmean(learned.won_amounts) if learned.won_amounts else 0.0
