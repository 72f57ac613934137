from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.forecast.domain.projection import OpportunityView, Period, period_key, period_keys, project
from shared.events.vocabulary import ForecastCategory as C
from shared.events.vocabulary import OpportunityStatus as S

TODAY = date(2026, 11, 27)


def view(
    amount: int, category: C, close: date, status: S = S.OPEN, p: float = 0.5, cur: str = "USD"
) -> OpportunityView:
    return OpportunityView(Decimal(amount), cur, p, category, close, status)


def test_period_keys() -> None:
    assert period_key(date(2026, 11, 3), Period.MONTH) == "2026-11"
    assert period_key(date(2026, 11, 3), Period.QUARTER) == "2026-Q4"
    assert period_keys(TODAY, Period.MONTH, 3) == ["2026-11", "2026-12", "2027-01"]
    assert period_keys(TODAY, Period.QUARTER, 3) == ["2026-Q4", "2027-Q1", "2027-Q2"]


def test_categories_roll_up_cumulatively() -> None:
    opps = [
        view(100, C.CLOSED, date(2026, 11, 2), S.WON, 1.0),
        view(10, C.COMMIT, date(2026, 11, 20), p=0.9),
        view(20, C.BEST_CASE, date(2026, 11, 21), p=0.6),
        view(40, C.PIPELINE, date(2026, 11, 22), p=0.2),
        view(999, C.OMITTED, date(2026, 11, 22), p=0.1),
        view(500, C.CLOSED, date(2026, 11, 2), S.LOST, 0.0),
    ]
    line = project(opps, today=TODAY, period=Period.MONTH, horizon=1)[0]
    assert (line.closed_won, line.commit, line.best_case, line.pipeline) == tuple(
        Decimal(x) for x in (100, 110, 130, 170)
    )
    assert line.weighted == Decimal("9") + Decimal("12") + Decimal("8")
    assert line.open_opportunities == 3


def test_overdue_open_deals_count_in_the_current_period() -> None:
    line = project([view(50, C.PIPELINE, date(2026, 8, 1))], today=TODAY, period=Period.MONTH, horizon=2)[0]
    assert line.period == "2026-11" and line.pipeline == 50


def test_currencies_are_never_mixed() -> None:
    lines = project(
        [view(1, C.COMMIT, TODAY, cur="EUR"), view(2, C.COMMIT, TODAY, cur="USD")],
        today=TODAY,
        period=Period.MONTH,
        horizon=1,
    )
    assert {(x.currency, x.commit) for x in lines} == {("EUR", Decimal(1)), ("USD", Decimal(2))}


def test_later_deals_land_in_their_quarter() -> None:
    lines = project([view(7, C.BEST_CASE, date(2027, 2, 10))], today=TODAY, period=Period.QUARTER, horizon=2)
    assert [(x.period, x.best_case) for x in lines] == [("2026-Q4", Decimal(0)), ("2027-Q1", Decimal(7))]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from([C.PIPELINE, C.BEST_CASE, C.COMMIT]),
            st.floats(0, 1),
            st.integers(0, 200),
        ),
        max_size=40,
    )
)
def test_commit_never_exceeds_best_case_never_exceeds_pipeline(rows: list[tuple[int, C, float, int]]) -> None:
    opps = [view(a, c, date.fromordinal(TODAY.toordinal() + d), p=p) for a, c, p, d in rows]
    for line in project(opps, today=TODAY, period=Period.MONTH, horizon=8):
        assert line.closed_won <= line.commit <= line.best_case <= line.pipeline
        assert line.weighted <= line.pipeline


def test_funnel_counts_what_each_lead_reached() -> None:
    from services.forecast.domain.funnel import conversion_rates, reached
    from shared.events.vocabulary import LeadStage as L

    current = {L.LEAD: 50, L.MQL: 30, L.OPPORTUNITY: 5, L.CUSTOMER: 10, L.CLOSED_LOST: 5, L.NURTURE: 20}
    counts = reached(current)
    assert counts == {L.LEAD: 120, L.MQL: 50, L.PROSPECT: 20, L.OPPORTUNITY: 20, L.CUSTOMER: 10}
    rates = conversion_rates(current)
    assert rates[(L.OPPORTUNITY, L.CUSTOMER)] == 0.5
    assert rates[(L.LEAD, L.MQL)] == 50 / 120
    assert conversion_rates({})[(L.LEAD, L.MQL)] == 0.0
