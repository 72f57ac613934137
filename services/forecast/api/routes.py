"""Forecast's routes: per-period revenue projection."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from services.forecast.domain.projection import Period, project
from services.forecast.persistence import repository
from shared.db.database import Database
from shared.http.auth import Scope, TokenAuthority


class ForecastLineOut(BaseModel):
    """One period in one currency."""

    period: str
    currency: str
    closed_won: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    weighted: Decimal
    open_opportunities: int


class ForecastOut(BaseModel):
    """The projection as of a day, period by period."""

    as_of: date
    period: Period
    lines: list[ForecastLineOut]


def forecast_router(database: Database, tokens: TokenAuthority) -> APIRouter:
    """Read routes over the forecast's projections."""
    router = APIRouter(prefix="/v1", tags=["forecast"], dependencies=[Depends(tokens.require(Scope.FORECAST_READ))])

    @router.get(
        "/forecast", response_model=ForecastOut, summary="Closed won, categories and weighted pipeline by period"
    )
    async def get_forecast(
        period: Period = Period.MONTH,
        horizon: Annotated[int, Query(ge=1, le=36, description="how many periods from the current one")] = 6,
    ) -> ForecastOut:
        today = datetime.now(UTC).date()
        async with database.session() as session:
            views = await repository.opportunity_views(session)
        lines = project(views, today=today, period=period, horizon=horizon)
        return ForecastOut(
            as_of=today,
            period=period,
            lines=[ForecastLineOut.model_validate(line, from_attributes=True) for line in lines],
        )

    return router
