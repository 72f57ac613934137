"""Forecast's routes: per-period revenue projection as of any day, and funnel KPIs."""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.forecast.api.schemas import AccuracyOut, ForecastLineOut, ForecastOut, FunnelGroupOut, FunnelOut
from services.forecast.domain.backtest import backtest, summarise
from services.forecast.domain.forecasting import forecast
from services.forecast.domain.funnel import FunnelReport, Grouping, funnel
from services.forecast.domain.history import as_of
from services.forecast.domain.projection import Period, period_starts, periods_before
from services.forecast.persistence import repository
from shared.db.database import Database
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem

# Days a forecast or funnel can be asked about: wide enough for any history, narrow enough for date arithmetic.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, UTC) - timedelta(microseconds=1)


def forecast_router(database: Database, tokens: TokenAuthority) -> APIRouter:
    """Read routes over the forecast's projections."""
    router = APIRouter(prefix="/v1", tags=["forecast"], dependencies=[Depends(tokens.require(Scope.FORECAST_READ))])

    @router.get(
        "/forecast",
        response_model=ForecastOut,
        summary="Closed won, categories, weighted pipeline, win-rate forecast and P10/P50/P90 by period",
    )
    async def get_forecast(
        period: Period = Period.MONTH,
        horizon: Annotated[int, Query(ge=1, le=12, description="how many periods from the current one")] = 6,
        as_of_day: Annotated[
            date | None,
            Query(
                alias="as_of", ge=FIRST_DAY, le=LAST_DAY, description="the forecast as it stood at the end of this day"
            ),
        ] = None,
    ) -> ForecastOut:
        day = as_of_day or datetime.now(UTC).date()
        moment = min(_end_of(day), datetime.now(UTC))
        async with database.session() as session:
            states = as_of(await repository.revisions(session, until=moment), moment)
        lines = await asyncio.to_thread(forecast, states, moment, period=period, horizon=horizon)  # CPU: off the loop
        return ForecastOut(
            as_of=day,
            period=period,
            lines=[
                ForecastLineOut(
                    **{k: getattr(f.line, k) for k in ForecastLineOut.model_fields if hasattr(f.line, k)},
                    win_rate=f.win_rate,
                    p10=f.p10,
                    p50=f.p50,
                    p90=f.p90,
                    closed_history=f.closed_history,
                )
                for f in lines
            ],
        )

    @router.get(
        "/forecast/accuracy",
        response_model=AccuracyOut,
        summary="The backtest of the last periods: error by method and how often the actual fell in P10-P90",
    )
    async def get_accuracy(
        period: Period = Period.MONTH,
        periods: Annotated[int, Query(ge=1, le=24, description="how many past periods, the current one excluded")] = 6,
        as_of_day: Annotated[
            date | None,
            Query(alias="as_of", ge=FIRST_DAY, le=LAST_DAY, description="judge the periods before this day's"),
        ] = None,
    ) -> AccuracyOut:
        day = as_of_day or datetime.now(UTC).date()
        current = period_starts(day, period, 1)[0]
        start = periods_before(current, period, periods)
        async with database.session() as session:
            history = await repository.revisions(session, until=min(_end_of(day), datetime.now(UTC)))
        rows = await asyncio.to_thread(backtest, history, start=start, end=current, period=period, simulations=500)
        summary = summarise(rows)
        return AccuracyOut(
            period=period,
            periods=periods,
            scored=summary.periods,
            mape=summary.mape,
            coverage=summary.coverage,
            start=start,
            end=current - timedelta(days=1),
        )

    @router.get(
        "/funnel",
        response_model=FunnelOut,
        summary="Funnel counts, conversion, win rate, cycle and velocity",
        responses=declared(_400="`from` is after `to`"),
    )
    async def get_funnel(
        start: Annotated[
            date | None, Query(alias="from", ge=FIRST_DAY, le=LAST_DAY, description="first day (default: 90 days ago)")
        ] = None,
        end: Annotated[
            date | None, Query(alias="to", ge=FIRST_DAY, le=LAST_DAY, description="last day (default: today)")
        ] = None,
        by: Annotated[
            Grouping | None, Query(description="group by the lead's source, segment, owner or campaign")
        ] = None,
    ) -> FunnelOut:
        last = end or datetime.now(UTC).date()
        first = start or max(FIRST_DAY, last - timedelta(days=90))
        if first > last:
            raise Problem(400, "Bad window", f"from ({first}) is after to ({last}); swap them")
        window_start = datetime.combine(first, time.min, UTC)
        window_end = _end_of(last)
        async with database.session() as session:
            changes = await repository.stage_history(session)
            deals = as_of(await repository.revisions(session, until=window_end), window_end)
            decided = await repository.handoff_decisions(session, window_start, window_end)
        reports = await asyncio.to_thread(
            funnel, changes, deals, start=window_start, end=window_end, by=by, handoffs=decided
        )
        return FunnelOut.model_validate(
            {"from": first, "to": last, "by": by, "groups": [_group_out(r) for r in reports]}
        )

    return router


def _group_out(report: FunnelReport) -> FunnelGroupOut:
    return FunnelGroupOut.model_validate(report, from_attributes=True)
