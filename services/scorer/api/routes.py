"""Scorer's routes: a lead's score with its reasons, and the ranked worklist."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from services.scorer.persistence.tables import profiles
from shared.db.database import Database
from shared.events.models import ScoreFactor
from shared.events.vocabulary import Segment
from shared.http.auth import Scope, TokenAuthority
from shared.http.problems import Problem


class ScoreOut(BaseModel):
    """A lead's current scores and every factor behind them."""

    lead_id: str
    fit: float
    engagement: float
    score: float
    segment: Segment
    mql: bool
    activity_count: int
    factors: list[ScoreFactor]
    rules_version: str
    scored_at: datetime


class WorklistOut(BaseModel):
    """One page of leads, best first."""

    items: list[ScoreOut]
    limit: int
    offset: int


def scorer_router(database: Database, tokens: TokenAuthority) -> APIRouter:
    """Read routes over the scorer's own tables."""
    router = APIRouter(prefix="/v1", tags=["scorer"], dependencies=[Depends(tokens.require(Scope.LEADS_READ))])

    @router.get("/scores/{lead_id}", response_model=ScoreOut, summary="A lead's scores and the reasons")
    async def get_score(lead_id: UUID) -> ScoreOut:
        async with database.session() as session:
            row = (await session.execute(select(profiles).where(profiles.c.lead_id == str(lead_id)))).mappings().first()
        if row is None:
            raise Problem(404, "Not found", f"no score for lead {lead_id} yet")
        return ScoreOut.model_validate(dict(row))

    @router.get("/worklist", response_model=WorklistOut, summary="Leads ranked for sales, best first")
    async def worklist(
        segment: Segment | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> WorklistOut:
        query = select(profiles).order_by(profiles.c.score.desc(), profiles.c.lead_id).limit(limit).offset(offset)
        if segment is not None:
            query = query.where(profiles.c.segment == segment.value)
        async with database.session() as session:
            rows = (await session.execute(query)).mappings().all()
        return WorklistOut(items=[ScoreOut.model_validate(dict(r)) for r in rows], limit=limit, offset=offset)

    return router
