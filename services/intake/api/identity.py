"""Who a lead is; merging two leads that are one person, undoing it, and what a lead's identity history is."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.commands import merging
from services.intake.persistence import identity_store, repository
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem


class MergeIn(BaseModel):
    """Which lead the one in the path is the same person as, and why."""

    into: UUID = Field(description="the lead that stays; the one in the path points at it from now on")
    reason: str = Field("merged by hand", min_length=1, max_length=500)


class MergeOut(BaseModel):
    """What a merge or unmerge did; the event is lead.merged or lead.unmerged on leads.identity."""

    merge_id: UUID
    lead_id: UUID
    into: UUID
    carried: list[UUID] = Field(description="leads merged into lead_id before, which follow it")
    event_id: str


class MergeRecord(BaseModel):
    """One merge the lead took part in."""

    merge_id: UUID
    source: UUID
    survivor: UUID
    reason: str
    merged_by: str
    merged_at: datetime
    unmerged_at: datetime | None
    unmerged_by: str | None


class ContactOut(BaseModel):
    """Who a lead is, as intake last heard it from them (newer non-empty answers replace older ones)."""

    lead_id: UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    job_title: str | None
    company: str | None
    company_domain: str | None
    company_size: str | None
    industry: str | None
    country: str | None
    submissions: int = Field(description="deliveries that named this lead")
    first_seen_at: datetime
    last_seen_at: datetime
    merged_into: UUID | None


class IdentityOut(BaseModel):
    """Whether the lead is merged now, and every merge it took part in, newest first."""

    lead_id: UUID
    merged_into: UUID | None
    merges: list[MergeRecord]


def identity_router(uow: UnitOfWorkFactory, tokens: TokenAuthority) -> APIRouter:
    """Merge and unmerge need leads:write; the contact and the history need leads:read."""
    router = APIRouter(prefix="/v1/leads", tags=["identity"])
    # The ledger's "by" is the token's name (an integration token may add for whom it acts), never a body field.
    writer = Annotated[str, Depends(tokens.actor(Scope.LEADS_WRITE))]

    async def run(work: str, lead_id: UUID, body: MergeIn | None, actor: str) -> MergeOut:
        try:
            async with uow() as unit:
                if body is not None:
                    done = await merging.merge(unit, lead_id, body.into, reason=body.reason, by=actor)
                else:
                    done = await merging.unmerge(unit, lead_id, by=actor)
                await unit.commit()
        except merging.MergeError as exc:
            raise Problem(exc.status, "Not found" if exc.status == 404 else "Conflict", str(exc)) from exc
        except IntegrityError as exc:  # two merges of the same lead at once: the second finds it taken
            raise Problem(409, "Conflict", f"lead {lead_id} changed while it was being {work}; try again") from exc
        return MergeOut(
            merge_id=done.merge_id,
            lead_id=done.lead_id,
            into=done.into,
            carried=list(done.carried),
            event_id=done.event_id,
        )

    @router.post(
        "/{lead_id}/merge",
        response_model=MergeOut,
        summary="Merge this lead into another that is the same person (lead.merged)",
        responses={404: {"description": "a lead intake has not captured"}, 409: {"description": "already merged"}},
    )
    async def merge_lead(lead_id: UUID, body: MergeIn, actor: writer) -> MergeOut:
        return await run("merged", lead_id, body, actor)

    @router.post(
        "/{lead_id}/unmerge",
        response_model=MergeOut,
        summary="Undo the merge that holds this lead (lead.unmerged)",
        responses={409: {"description": "the lead is not merged"}},
    )
    async def unmerge_lead(lead_id: UUID, actor: writer) -> MergeOut:
        return await run("unmerged", lead_id, None, actor)

    @router.get(
        "/{lead_id}/contact",
        response_model=ContactOut,
        dependencies=[Depends(tokens.require(Scope.LEADS_READ))],
        summary="Who a lead is: name, email, phone, title, company, country",
        responses=declared(_404="intake has not captured this lead (or it was erased)"),
    )
    async def lead_contact(lead_id: UUID) -> ContactOut:
        async with uow() as unit:
            lead = await _captured(unit.session, lead_id)
        return ContactOut.model_validate(lead)

    @router.get(
        "/{lead_id}/identity",
        response_model=IdentityOut,
        dependencies=[Depends(tokens.require(Scope.LEADS_READ))],
        summary="Whether a lead is merged, and its merges",
        responses=declared(_404="intake has not captured this lead"),
    )
    async def lead_identity(lead_id: UUID) -> IdentityOut:
        async with uow() as unit:
            lead = await _captured(unit.session, lead_id)
            history = await identity_store.merges_of(unit.session, str(lead_id))
        merged_into = lead["merged_into"]
        return IdentityOut(
            lead_id=lead_id,
            merged_into=UUID(merged_into) if merged_into else None,
            merges=[MergeRecord.model_validate(m) for m in history],
        )

    return router


async def _captured(session: AsyncSession, lead_id: UUID) -> dict[str, Any]:
    """The lead as intake stored it; 404 when intake never captured it (or it was erased)."""
    lead = await repository.find_lead(session, str(lead_id))
    if lead is None:
        raise Problem(404, "Not found", f"lead {lead_id} has not been captured by intake")
    return lead
