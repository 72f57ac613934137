"""As-of history, learned rates, the win-rate forecast with its Monte Carlo range, the backtest and the funnel."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.forecast.domain.backtest import backtest, summarise
from services.forecast.domain.forecasting import forecast
from services.forecast.domain.funnel import StageChange, funnel
from services.forecast.domain.history import Revision, as_of
from services.forecast.domain.learned import Survival, WinRates, age_bucket
from services.forecast.domain.projection import Period
from shared.events.vocabulary import ForecastCategory as C
from shared.events.vocabulary import LeadStage as L
from shared.events.vocabulary import OpportunityStatus as S

T0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


def deal(
    oid: str,
    opened: datetime,
    *,
    closed: datetime | None = None,
    won: bool = False,
    amount: int = 1000,
    stage: str = "discovery",
    source: str | None = "web",
    reason: str | None = None,
) -> list[Revision]:
    common: dict[str, Any] = dict(
        opportunity_id=oid,
        currency="USD",
        pipeline_stage=stage,
        probability=0.4,
        category=C.PIPELINE,
        expected_close_date=(opened + timedelta(days=30)).date(),
        source=source,
        owner="ana",
        opened_at=opened,
        lead_id=f"lead-{oid}",
    )
    out = [Revision(revision=1, amount=Decimal(amount), status=S.OPEN, changed_at=opened, **common)]
    if closed:
        out.append(
            Revision(
                revision=2,
                amount=Decimal(amount),
                status=S.WON if won else S.LOST,
                changed_at=closed,
                closed_at=closed,
                close_reason=reason,
                **common,
            )
        )
    return out


def stationary(months: int, per_day: int = 4, seed: int = 5) -> list[Revision]:
    """Deals arrive at a steady rate, close after 10-40 days, 60 % won."""
    rng = random.Random(seed)
    out = []
    for day in range(months * 30):
        for n in range(per_day):
            opened = T0 + timedelta(days=day)
            cycle = rng.uniform(10, 40)
            out += deal(
                f"{day}-{n}",
                opened,
                closed=opened + timedelta(days=cycle),
                won=rng.random() < 0.6,
                amount=rng.choice([500, 1000, 1500]),
            )
    return out


def test_as_of_sees_the_revision_in_force_and_nothing_opened_later() -> None:
    history = deal("a", T0, closed=T0 + timedelta(days=5), won=True) + deal("b", T0 + timedelta(days=9))
    assert [r.status for r in as_of(history, T0 + timedelta(days=1))] == [S.OPEN]
    later = {r.opportunity_id: r.status for r in as_of(history, T0 + timedelta(days=10))}
    assert later == {"a": S.WON, "b": S.OPEN}


def test_kaplan_meier_counts_open_deals_as_censored() -> None:
    km = Survival.fit(closed_after=[10, 20], open_for=[15, 30])
    assert km.at(5) == 1.0
    assert km.at(10) == pytest.approx(3 / 4)
    assert km.at(20) == pytest.approx(3 / 4 * (1 - 1 / 2))  # 15 left the risk set censored
    assert km.close_within(age=12, start=0, end=10) == pytest.approx(1 - (3 / 8) / (3 / 4))
    assert km.close_within(age=100, start=0, end=10) == 0.0  # older than anything that ever closed


def test_win_rates_back_off_to_coarser_groups_when_history_is_thin() -> None:
    closed = [("proposal", "0-30", "web", True)] * 40 + [("proposal", "0-30", "event", False)] * 5
    rates = WinRates.fit(closed)
    assert rates.rate("proposal", "0-30", "web") == (1.0, "stage, age and source")
    rate, group = rates.rate("proposal", "0-30", "event")
    assert group == "stage and age" and rate == pytest.approx(40 / 45)
    assert rates.rate("discovery", "31-60", None)[1] == "all deals"
    assert age_bucket(45) == "31-60" and age_bucket(400) == "180+"


def test_win_rate_forecast_and_range_track_a_steady_business() -> None:
    history = stationary(months=8)
    moment = datetime(2025, 7, 1, tzinfo=UTC)
    lines = forecast(as_of(history, moment), moment, period=Period.MONTH, horizon=2, simulations=1000)
    actual = sum(
        float(r.amount)
        for r in as_of(history, datetime(2025, 8, 1, tzinfo=UTC))
        if r.status is S.WON and r.closed_at and r.closed_at.month == 7
    )
    july = lines[0]
    assert july.line.period == "2025-07" and july.closed_history > 500
    assert float(july.win_rate) == pytest.approx(actual, rel=0.12)
    assert july.p10 < july.p50 < july.p90
    assert float(july.line.closed_won + july.line.weighted) < 0.75 * actual  # the naive baseline misses new deals


def test_backtest_scores_every_period_and_skips_those_without_history() -> None:
    rows = backtest(
        stationary(months=9), start=date(2025, 1, 1), end=date(2025, 10, 1), period=Period.QUARTER, simulations=500
    )
    assert [r.period for r in rows] == ["2025-Q1", "2025-Q2", "2025-Q3"]
    assert rows[0].closed_history == 0  # nothing had closed on 1 January
    summary = summarise(rows)
    assert summary.periods == 2
    assert summary.mape["win_rate"] < 0.1 < summary.mape["weighted"]


def test_funnel_counts_a_cohort_converts_and_measures_velocity() -> None:
    def change(lead: str, to: L, day: int, frm: L | None = None, source: str = "web") -> StageChange:
        return StageChange(lead, frm, to, source, "ana", "hot", T0 + timedelta(days=day))

    changes = [
        change("1", L.LEAD, 1),
        change("1", L.MQL, 2, L.LEAD),
        change("1", L.PROSPECT, 3, L.MQL),
        change("1", L.OPPORTUNITY, 4, L.PROSPECT),
        change("1", L.CUSTOMER, 20, L.OPPORTUNITY),
        change("2", L.LEAD, 1, source="event"),
        change("2", L.MQL, 5, L.LEAD, source="event"),
        change("2", L.DISQUALIFIED, 6, L.MQL, source="event"),
        change("3", L.LEAD, 40),  # outside the window
    ]
    deals = (
        deal("1", T0 + timedelta(days=4), closed=T0 + timedelta(days=20), won=True, amount=3000, reason="price")
        + deal("9", T0 + timedelta(days=2), closed=T0 + timedelta(days=12), reason="no budget")
        + deal("8", T0 + timedelta(days=10))
    )
    end = T0 + timedelta(days=30)
    [overall] = funnel(changes, as_of(deals, end), start=T0, end=end)
    assert overall.leads == 2 and overall.reached[L.MQL] == 2 and overall.reached[L.CUSTOMER] == 1
    assert overall.conversion["lead→mql"] == 1.0 and overall.conversion["mql→prospect"] == 0.5
    assert overall.lead_to_customer == 0.5
    assert (overall.won, overall.lost, overall.win_rate) == (1, 1, 0.5)
    assert overall.median_cycle_days == pytest.approx(16)
    assert overall.reasons == {"won": {"price": 1}, "lost": {"no budget": 1}}
    assert overall.velocity_per_day == pytest.approx(1 * 0.5 * 3000 / 16)
    by_source = {r.group: r for r in funnel(changes, as_of(deals, end), start=T0, end=end, by="source")}
    assert by_source["web"].leads == 1 and by_source["event"].leads == 1
    assert by_source["event"].reached[L.PROSPECT] == 0
