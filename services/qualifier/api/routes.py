"""Qualifier's routes: read a lead's stage and history; the opportunity lifecycle."""

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from fastapi import APIRouter, Depends

from services.qualifier.api.schemas import (
    LeadOut,
    OpportunityClose,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    TransitionOut,
)
from services.qualifier.domain.opportunity import OpportunityError, UnknownPipelineStage
from services.qualifier.domain.stages import IllegalTransition
from services.qualifier.persistence import repository
from services.qualifier.service import NotFound, OpportunityCommands
from shared.db.database import Database
from shared.http.auth import Scope, TokenAuthority
from shared.http.problems import Problem

_ACTOR = "api"


def qualifier_router(database: Database, tokens: TokenAuthority, commands: OpportunityCommands) -> APIRouter:
    """Lead reads and opportunity commands."""
    router = APIRouter(prefix="/v1", tags=["qualifier"])
    read = [Depends(tokens.require(Scope.LEADS_READ))]
    write = [Depends(tokens.require(Scope.OPPORTUNITIES_WRITE))]

    @router.get("/leads/{lead_id}", response_model=LeadOut, dependencies=read, summary="Stage and history of a lead")
    async def get_lead(lead_id: UUID) -> LeadOut:
        async with database.session() as session:
            lead = await repository.load_lead(session, str(lead_id))
            if lead is None:
                raise Problem(404, "Not found", f"no lead {lead_id} has reached the qualifier yet")
            transitions = await repository.history(session, str(lead_id))
        return LeadOut(
            lead_id=lead["lead_id"],
            stage=lead["stage"],
            owner=lead["owner"],
            score=lead["score"],
            segment=lead["segment"],
            mql=lead["mql"],
            history=[TransitionOut.model_validate(t) for t in transitions],
        )

    @router.get(
        "/opportunities/{opportunity_id}",
        response_model=OpportunityOut,
        dependencies=read,
        summary="An opportunity's current state",
    )
    async def get_opportunity(opportunity_id: UUID) -> OpportunityOut:
        async with database.session() as session:
            found = await repository.load_opportunity(session, opportunity_id)
        if found is None:
            raise Problem(404, "Not found", f"no opportunity {opportunity_id}")
        return OpportunityOut.of(found)

    @router.post(
        "/opportunities",
        response_model=OpportunityOut,
        status_code=201,
        dependencies=write,
        summary="Open an opportunity for a lead",
    )
    async def open_opportunity(body: OpportunityIn) -> OpportunityOut:
        with _as_problems():
            created = await commands.open(
                lead_id=body.lead_id,
                name=body.name,
                amount=body.amount,
                currency=body.currency,
                expected_close_date=body.expected_close_date,
                pipeline_stage=body.pipeline_stage,
                owner=body.owner,
                actor=_ACTOR,
            )
        return OpportunityOut.of(created)

    @router.patch(
        "/opportunities/{opportunity_id}",
        response_model=OpportunityOut,
        dependencies=write,
        summary="Change an open opportunity",
    )
    async def patch_opportunity(opportunity_id: UUID, body: OpportunityPatch) -> OpportunityOut:
        with _as_problems():
            updated = await commands.change(opportunity_id, body.model_dump(exclude_unset=True))
        return OpportunityOut.of(updated)

    @router.post(
        "/opportunities/{opportunity_id}/close",
        response_model=OpportunityOut,
        dependencies=write,
        summary="Close an opportunity won or lost",
    )
    async def close_opportunity(opportunity_id: UUID, body: OpportunityClose) -> OpportunityOut:
        with _as_problems():
            closed = await commands.close(
                opportunity_id,
                won=body.won,
                reason=body.reason,
                amount=body.amount,
                actor=_ACTOR,
                close_date=body.close_date,
            )
        return OpportunityOut.of(closed)

    return router


@contextmanager
def _as_problems() -> Iterator[None]:
    """Translate domain refusals into problem responses."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except UnknownPipelineStage as exc:
        raise Problem(422, "Invalid request", str(exc)) from exc
    except (OpportunityError, IllegalTransition) as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
