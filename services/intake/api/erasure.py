"""Erasing a person on request: `DELETE /v1/people/{email}` (admin)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from services.intake.commands.erasure import NobodyToErase
from services.intake.commands.erasure import erase as erase_address
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.http.auth import Scope, TokenAuthority
from shared.http.problems import Problem


class ErasedOut(BaseModel):
    """What was erased; each lead is announced by a person.erased event on leads.identity."""

    lead_ids: list[UUID] = Field(description="the person's leads, now deleted in every service")
    raw_rows: int = Field(description="quarantined deliveries, queued fetches and import row errors removed")
    erased_at: datetime


def erasure_router(uow: UnitOfWorkFactory, tokens: TokenAuthority) -> APIRouter:
    """Erasure needs the admin scope: it cannot be undone."""
    router = APIRouter(prefix="/v1/people", tags=["privacy"])
    admin = Annotated[str, Depends(tokens.actor(Scope.ADMIN))]

    @router.delete(
        "/{email}",
        response_model=ErasedOut,
        summary="Erase a person: their leads and raw deliveries here, and everything the other services hold",
        responses={404: {"description": "intake holds nothing of this address"}},
    )
    async def erase(
        email: Annotated[str, Path(min_length=3, max_length=320, pattern=r"^[^\x00]*@[^\x00]*$")], actor: admin
    ) -> ErasedOut:
        try:
            done = await erase_address(uow, email, by=actor)
        except NobodyToErase as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        return ErasedOut(lead_ids=list(done.lead_ids), raw_rows=done.raw_rows, erased_at=done.erased_at)

    return router
