"""Qualifier's routes: leads with their reasons, evidence, overrides, owners, and the opportunity lifecycle."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query

from services.qualifier.api.schemas import (
    EvidenceIn,
    EvidenceOut,
    FrameworkOut,
    HandoffRejection,
    LeadOut,
    LeadPage,
    LeadSummary,
    OpportunityClose,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    OwnerOut,
    Reassigned,
    StageOverride,
    TransitionOut,
)
from services.qualifier.commands.handoff import HandoffRefused, Handoffs, UnknownReason
from services.qualifier.commands.opportunities import MergedLead, NotFound, OpportunityCommands, RevisionConflict
from services.qualifier.commands.qualification import OWNED_STAGES, Qualifier
from services.qualifier.domain.opportunity import OpportunityError, UnknownPipelineStage
from services.qualifier.domain.stages import IllegalTransition
from services.qualifier.persistence import repository
from services.qualifier.persistence.repository import StaleRevision
from services.qualifier.transitions import reported_criteria
from shared.db.database import Database
from shared.events.vocabulary import LeadStage, Segment
from shared.http.auth import ACTOR_HEADER, Caller, Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem

_TEXT = r"^[^\x00]*$"  # PostgreSQL refuses NUL in text: a 422 here, not a 500 there


def qualifier_router(
    database: Database,
    tokens: TokenAuthority,
    commands: OpportunityCommands,
    qualifier: Qualifier,
    handoffs: Handoffs,
) -> APIRouter:
    """Lead reads and commands, and opportunity commands."""
    router = APIRouter(prefix="/v1", tags=["qualifier"])
    read = [Depends(tokens.require(Scope.LEADS_READ))]
    # Commands that leave an audit trail take their actor from the token (and so check it once).
    leads_writer = Annotated[str, Depends(tokens.actor(Scope.LEADS_WRITE))]
    opportunities_writer = Annotated[str, Depends(tokens.actor(Scope.OPPORTUNITIES_WRITE))]
    admin_actor = Annotated[str, Depends(tokens.actor(Scope.ADMIN))]
    leads_caller = Annotated[Caller, Depends(tokens.require(Scope.LEADS_WRITE))]
    actor_header = Annotated[str | None, Header(alias=ACTOR_HEADER, max_length=200, description="integrations only")]

    @router.get(
        "/leads",
        response_model=LeadPage,
        dependencies=read,
        summary="Find leads: by name, email or company, and by stage, segment, owner and source",
    )
    async def list_leads(
        q: Annotated[
            str | None,
            Query(min_length=1, max_length=200, pattern=_TEXT, description="part of a name, an email or a company"),
        ] = None,
        stage: LeadStage | None = None,
        segment: Segment | None = None,
        owner: Annotated[str | None, Query(max_length=200, pattern=_TEXT)] = None,
        source: Annotated[
            str | None, Query(max_length=50, pattern=_TEXT, description="the provider: typeform, zoom, api, …")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> LeadPage:
        wanted = repository.LeadFilter(
            text=q,
            stage=stage.value if stage else None,
            segment=segment.value if segment else None,
            owner=owner,
            source=source,
        )
        async with database.session() as session:
            rows = await repository.list_leads(session, wanted, limit=limit, offset=offset)
        return LeadPage(items=[LeadSummary.model_validate(r) for r in rows], limit=limit, offset=offset)

    @router.get(
        "/leads/{lead_id}",
        response_model=LeadOut,
        dependencies=read,
        summary="A lead, its reasons, its history",
        responses=declared(_404="no such lead has reached the qualifier"),
    )
    async def get_lead(lead_id: UUID) -> LeadOut:
        return await _lead_view(database, qualifier, lead_id)

    @router.post(
        "/leads/{lead_id}/evidence",
        response_model=LeadOut,
        summary="Record evidence (pain, budget, authority, timeline, …) and re-qualify",
        responses=declared(404, _409="the lead is merged into another (`merged_into` names it)"),
    )
    async def post_evidence(lead_id: UUID, body: EvidenceIn, actor: leads_writer) -> LeadOut:
        with _as_problems():
            await qualifier.record_evidence(lead_id, body.evidence, note=body.note, actor=actor)
        return await _lead_view(database, qualifier, lead_id)

    @router.post(
        "/leads/{lead_id}/accept",
        response_model=LeadOut,
        summary="The owner accepts a lead handed to them (an admin may for them)",
        responses=declared(404, _409="no hand-off is waiting, or it is another owner's, or the lead is merged"),
    )
    async def accept(lead_id: UUID, caller: leads_caller, display: actor_header = None) -> LeadOut:
        with _as_problems():
            await handoffs.accept(lead_id, actor=caller.actor(display), on_behalf=caller.is_admin)
        return await _lead_view(database, qualifier, lead_id)

    @router.post(
        "/leads/{lead_id}/reject",
        response_model=LeadOut,
        summary="The owner hands a lead back to nurture with a reason from the rules' list",
        responses=declared(
            404, _409="no hand-off is waiting, or it is another owner's", _422="a reason the rules do not list"
        ),
    )
    async def reject(
        lead_id: UUID, body: HandoffRejection, caller: leads_caller, display: actor_header = None
    ) -> LeadOut:
        with _as_problems():
            await handoffs.reject(
                lead_id, reason=body.reason, note=body.note, actor=caller.actor(display), on_behalf=caller.is_admin
            )
        return await _lead_view(database, qualifier, lead_id)

    @router.post(
        "/leads/{lead_id}/stage",
        response_model=LeadOut,
        summary="Move a lead by hand (legal transitions only; audited)",
        responses=declared(404, _409="not a legal transition from the lead's stage, or the lead is merged"),
    )
    async def override_stage(lead_id: UUID, body: StageOverride, actor: leads_writer) -> LeadOut:
        with _as_problems():
            await qualifier.override(lead_id, body.stage, reason=body.reason, actor=actor)
        return await _lead_view(database, qualifier, lead_id)

    @router.get("/owners", response_model=list[OwnerOut], dependencies=read, summary="Owners, teams and loads")
    async def list_owners() -> list[OwnerOut]:
        async with database.session() as session:
            rows = await repository.owners_with_load(session, OWNED_STAGES)
        return [OwnerOut.model_validate(r) for r in rows]

    @router.delete(
        "/owners/{owner}",
        response_model=Reassigned,
        summary="Remove an owner and reassign its open leads by the routing rules",
        responses=declared(_404="no such owner"),
    )
    async def remove_owner(owner: str, actor: admin_actor) -> Reassigned:
        with _as_problems():
            moved = await qualifier.remove_owner(owner, actor=actor)
        return Reassigned(owner=owner, reassigned=moved)

    @router.get(
        "/opportunities/{opportunity_id}",
        response_model=OpportunityOut,
        dependencies=read,
        summary="An opportunity's current state",
        responses=declared(404),
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
        summary="Open an opportunity for a lead",
        responses=declared(
            _404="no such lead", _409="the lead is merged or not yet qualified", _422="an unknown pipeline stage"
        ),
    )
    async def open_opportunity(body: OpportunityIn, actor: opportunities_writer) -> OpportunityOut:
        with _as_problems():
            created = await commands.open(
                lead_id=body.lead_id,
                name=body.name,
                amount=body.amount,
                currency=body.currency,
                expected_close_date=body.expected_close_date,
                pipeline_stage=body.pipeline_stage,
                owner=body.owner,
                actor=actor,
            )
        return OpportunityOut.of(created)

    @router.patch(
        "/opportunities/{opportunity_id}",
        response_model=OpportunityOut,
        summary="Change an open opportunity",
        responses=declared(
            404, _409="closed, or changed since `revision` (the current revision is in the body)", _422="unknown stage"
        ),
    )
    async def patch_opportunity(
        opportunity_id: UUID, body: OpportunityPatch, actor: opportunities_writer
    ) -> OpportunityOut:
        with _as_problems():
            changes = body.model_dump(exclude_unset=True)
            revision = changes.pop("revision", None)
            updated = await commands.change(opportunity_id, changes, actor=actor, expected_revision=revision)
        return OpportunityOut.of(updated)

    @router.post(
        "/opportunities/{opportunity_id}/close",
        response_model=OpportunityOut,
        summary="Close an opportunity won or lost",
        responses=declared(404, _409="already closed, or changed since `revision`"),
    )
    async def close_opportunity(
        opportunity_id: UUID, body: OpportunityClose, actor: opportunities_writer
    ) -> OpportunityOut:
        with _as_problems():
            closed = await commands.close(
                opportunity_id,
                won=body.won,
                reason=body.reason,
                amount=body.amount,
                actor=actor,
                close_date=body.close_date,
                expected_revision=body.revision,
            )
        return OpportunityOut.of(closed)

    return router


async def _lead_view(database: Database, qualifier: Qualifier, lead_id: UUID) -> LeadOut:
    async with database.session() as session:
        lead = await repository.load_lead(session, str(lead_id))
        if lead is None:
            raise Problem(404, "Not found", f"no lead {lead_id} has reached the qualifier yet")
        transitions = await repository.history(session, str(lead_id))
        evidence = await repository.evidence_of(session, str(lead_id))
        opportunities = await repository.opportunities_of(session, str(lead_id))
    results = qualifier.evaluate(lead.get("facts") or {})
    frameworks = [
        FrameworkOut(framework=name, passed=r.passed, stages=r.stages, criteria=reported_criteria(r.criteria))
        for name, r in results.items()
    ]
    return LeadOut(
        **LeadSummary.model_validate(lead).model_dump(),
        merged_into=lead.get("merged_into"),
        frameworks=frameworks,
        evidence=[EvidenceOut.model_validate(e) for e in evidence],
        history=[TransitionOut.model_validate(t) for t in transitions],
        opportunities=[OpportunityOut.of(o) for o in opportunities],
        reject_reasons=qualifier.rules.routing.handoff.reject_reasons if lead.get("handoff_status") else [],
    )


@contextmanager
def _as_problems() -> Iterator[None]:
    """Translate domain refusals into problem responses."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except HandoffRefused as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    except UnknownReason as exc:
        raise Problem(422, "Invalid request", str(exc)) from exc
    except MergedLead as exc:
        raise Problem(409, "Conflict", str(exc), merged_into=exc.into) from exc
    except RevisionConflict as exc:
        current = exc.current
        raise Problem(
            409,
            "Conflict",
            str(exc),
            opportunity_id=str(current.opportunity_id),
            current_revision=current.revision,
            opportunity_status=current.status.value,
        ) from exc
    except UnknownPipelineStage as exc:
        raise Problem(422, "Invalid request", str(exc)) from exc
    except (OpportunityError, IllegalTransition, StaleRevision) as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
