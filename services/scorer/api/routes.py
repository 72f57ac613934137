"""Scorer's routes: a lead's score with its reasons, the ranked worklist, and the predictive model."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_, select

from services.scorer.api.schemas import (
    ActivityOut,
    ModelOut,
    ModelVersionOut,
    ScoreOut,
    TimelineOut,
    TrainingOut,
    WorklistOut,
)
from services.scorer.commands.training import TrainingInProgress
from services.scorer.domain.model import NotEnoughOutcomes
from services.scorer.persistence import model_store
from services.scorer.persistence.tables import activities, owners, profiles
from shared.db.database import Database
from shared.events.vocabulary import Segment
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem

_SCORE_COLUMNS = (*profiles.c, owners.c.owner, owners.c.handoff_status, owners.c.handoff_due_at)


def scorer_router(
    database: Database, tokens: TokenAuthority, train: Callable[[], Awaitable[dict[str, Any]]]
) -> APIRouter:
    """Routes over the scorer's own tables; `train` runs one training."""
    router = APIRouter(prefix="/v1", tags=["scorer"])
    read = [Depends(tokens.require(Scope.LEADS_READ))]

    @router.get(
        "/scores/{lead_id}",
        response_model=ScoreOut,
        summary="A lead's scores and the reasons",
        dependencies=read,
        responses=declared(_404="the lead has no score yet"),
    )
    async def get_score(lead_id: UUID) -> ScoreOut:
        query = select(*_SCORE_COLUMNS).outerjoin(owners, owners.c.lead_id == profiles.c.lead_id)
        async with database.session() as session:
            row = (await session.execute(query.where(profiles.c.lead_id == str(lead_id)))).mappings().first()
        if row is None:
            raise Problem(404, "Not found", f"no score for lead {lead_id} yet")
        return ScoreOut.model_validate(dict(row))

    @router.get(
        "/scores/{lead_id}/timeline",
        response_model=TimelineOut,
        summary="What a lead did (and the leads merged into it), newest first",
        dependencies=read,
    )
    async def get_timeline(lead_id: UUID, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> TimelineOut:
        merged = select(profiles.c.lead_id).where(profiles.c.merged_into == str(lead_id))
        query = (
            select(activities.c.activity_type, activities.c.occurred_at, activities.c.minutes, activities.c.lead_id)
            .where(or_(activities.c.lead_id == str(lead_id), activities.c.lead_id.in_(merged)))
            .order_by(activities.c.occurred_at.desc(), activities.c.id.desc())
            .limit(limit)
        )
        async with database.session() as session:
            rows = (await session.execute(query)).mappings().all()
        return TimelineOut(lead_id=str(lead_id), items=[ActivityOut.model_validate(dict(r)) for r in rows])

    @router.get(
        "/worklist", response_model=WorklistOut, summary="Leads ranked for sales, best first", dependencies=read
    )
    async def worklist(
        segment: Segment | None = None,
        grade: Annotated[
            str | None,
            Query(pattern=r"^([A-D][1-4]?|[1-4])$", description="A1 (one cell), A (a fit grade) or 1 (an engagement)"),
        ] = None,
        sort: Annotated[
            Literal["best", "grade"], Query(description="best: by predicted conversion, then score; grade: A1 first")
        ] = "best",
        owner: Annotated[
            str | None, Query(max_length=200, pattern=r"^[^\x00]*$", description="only this owner's leads")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> WorklistOut:
        order = (profiles.c.probability.desc().nulls_last(), profiles.c.score.desc(), profiles.c.lead_id)
        if sort == "grade":
            order = (profiles.c.grade.asc().nulls_last(), profiles.c.score.desc(), profiles.c.lead_id)
        query = (
            select(*_SCORE_COLUMNS)
            .outerjoin(owners, owners.c.lead_id == profiles.c.lead_id)
            .where(profiles.c.merged_into.is_(None))
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        if grade is not None:
            column = profiles.c.grade
            exact = len(grade) == 2
            query = query.where(
                column == grade if exact else column.like(f"{grade}%" if grade.isalpha() else f"_{grade}")
            )
        if segment is not None:
            query = query.where(profiles.c.segment == segment.value)
        if owner is not None:
            query = query.where(owners.c.owner == owner)
        async with database.session() as session:
            rows = (await session.execute(query)).mappings().all()
        return WorklistOut(items=[ScoreOut.model_validate(dict(r)) for r in rows], limit=limit, offset=offset)

    @router.get("/model", response_model=ModelOut, summary="The predictive model in use and its validation figures")
    async def get_model(
        _: Annotated[object, Depends(tokens.require(Scope.LEADS_READ))],
        versions: Annotated[int, Query(ge=1, le=100, description="how many of the newest versions")] = 10,
    ) -> ModelOut:
        async with database.session() as session:
            found = [ModelVersionOut.model_validate(r) for r in await model_store.reports(session, versions)]
            active = await model_store.active_report(session)
        return ModelOut(active=ModelVersionOut.model_validate(active) if active else None, versions=found)

    @router.post(
        "/model/train",
        response_model=TrainingOut,
        status_code=201,
        summary="Train a model on recorded outcomes; it becomes active only if it beats the one in use",
        dependencies=[Depends(tokens.require(Scope.ADMIN))],
        responses={
            409: {"description": "another training is running (a replica or `leadflow train`)"},
            422: {"description": "too few outcomes; the detail says how many more are needed"},
        },
    )
    async def train_model() -> TrainingOut:
        try:
            result = await train()
        except NotEnoughOutcomes as exc:
            raise Problem(422, "Not enough outcomes", str(exc)) from exc
        except TrainingInProgress as exc:
            raise Problem(409, "Conflict", str(exc), headers={"Retry-After": "30"}) from exc
        return TrainingOut.model_validate(result)

    return router
