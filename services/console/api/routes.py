"""The console's JSON route: one view of a lead, for integrations that want it in one call."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.console.api.schemas import LeadViewOut
from services.console.composition import LeadNotFound, lead_view
from services.console.upstream import Upstream
from shared.http.auth import Caller, Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem


def console_api_router(upstream: Upstream, tokens: TokenAuthority) -> APIRouter:
    """GET /v1/leads/{id}: the caller's own token is passed on, so each service applies its scopes."""
    router = APIRouter(prefix="/v1", tags=["console"])

    @router.get(
        "/leads/{lead_id}",
        response_model=LeadViewOut,
        summary="One lead: who, source and campaign, score and factors, stage and history, evidence, opportunities",
        responses=declared(_404="no service knows this lead"),
    )
    async def get_lead(
        lead_id: UUID, request: Request, _: Annotated[Caller, Depends(tokens.require(Scope.LEADS_READ))]
    ) -> LeadViewOut:
        token = request.headers["authorization"].partition(" ")[2].strip()
        try:
            view = await lead_view(upstream, token, str(lead_id))
        except LeadNotFound as exc:
            raise Problem(404, "Not found", f"no service knows lead {lead_id}") from exc
        return LeadViewOut(
            lead_id=view.lead_id,
            name=view.name,
            contact=view.contact,
            score=view.score,
            timeline=view.timeline,
            qualification=view.qualification,
            unavailable=view.unavailable,
        )

    return router
