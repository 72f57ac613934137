"""The forecast with its backtest accuracy, the funnel, and the quarantine of refused deliveries."""

import asyncio
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.console.pages.context import Pages
from services.console.sessions import Session
from shared.events.vocabulary import LeadStage

Grouping = Literal["source", "segment", "owner", "campaign"]
_FUNNEL_STAGES = (LeadStage.MQL, LeadStage.PROSPECT, LeadStage.OPPORTUNITY, LeadStage.CUSTOMER)


def reports_router(pages: Pages) -> APIRouter:
    """GET /forecast, GET /funnel, GET /quarantine."""
    router = APIRouter(include_in_schema=False)
    person = Annotated[Session, Depends(pages.signed_in)]
    upstream = pages.upstream

    @router.get("/forecast", response_class=HTMLResponse)
    async def forecast(request: Request, session: person, period: Literal["month", "quarter"] = "month") -> Response:
        projection, accuracy = await asyncio.gather(
            upstream.get("forecast", "/v1/forecast", session.token, {"period": period, "horizon": 6}),
            upstream.get("forecast", "/v1/forecast/accuracy", session.token, {"period": period}),
        )
        return pages.render(
            request, "forecast.html", session, title="Forecast", page="forecast", forecast=projection, accuracy=accuracy
        )

    @router.get("/funnel", response_class=HTMLResponse)
    async def funnel(request: Request, session: person, by: Grouping | None = None) -> Response:
        report = await upstream.get("forecast", "/v1/funnel", session.token, {"by": by} if by else None)
        return pages.render(
            request,
            "funnel.html",
            session,
            title="Funnel",
            page="funnel",
            funnel=report,
            by=by,
            groupings=get_args(Grouping),
            stages=_FUNNEL_STAGES,
            stages_before=("lead", "mql", "prospect", "opportunity"),
        )

    @router.get("/quarantine", response_class=HTMLResponse)
    async def quarantine(request: Request, session: person) -> Response:
        held = await upstream.get("intake", "/v1/quarantine", session.token, {"limit": 200})
        return pages.render(request, "quarantine.html", session, title="Quarantine", page="quarantine", held=held)

    return router
