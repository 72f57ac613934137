"""Reads and writes of the forecast's projections, inside the caller's unit of work."""

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.forecast.domain.projection import OpportunityView
from services.forecast.persistence.tables import lead_stages, opportunities
from shared.db.upsert import upsert
from shared.events.models import OpportunityClosed, OpportunitySnapshot
from shared.events.vocabulary import ForecastCategory, LeadStage, OpportunityStatus


async def apply_snapshot(session: AsyncSession, snapshot: OpportunitySnapshot) -> bool:
    """Store the snapshot unless a newer revision is already stored; True when it was applied."""
    oid = str(snapshot.opportunity_id)
    stored = await session.scalar(select(opportunities.c.revision).where(opportunities.c.opportunity_id == oid))
    if stored is not None and stored >= snapshot.revision:
        return False
    values = {
        "lead_id": str(snapshot.lead_id),
        "revision": snapshot.revision,
        "amount": snapshot.amount,
        "currency": snapshot.currency,
        "pipeline_stage": snapshot.pipeline_stage,
        "probability": snapshot.probability,
        "forecast_category": snapshot.forecast_category.value,
        "expected_close_date": snapshot.expected_close_date,
        "status": snapshot.status.value,
        "owner": snapshot.owner,
        "source": snapshot.source,
        "opened_at": snapshot.opened_at,
        "closed_at": snapshot.closed_at if isinstance(snapshot, OpportunityClosed) else None,
        "changed_at": snapshot.changed_at,
    }
    if stored is None:
        await session.execute(insert(opportunities).values(opportunity_id=oid, **values))
    else:
        await session.execute(update(opportunities).where(opportunities.c.opportunity_id == oid).values(**values))
    return True


async def set_stage(session: AsyncSession, lead_id: str, stage: LeadStage, source: str | None, at: datetime) -> None:
    """Remember a lead's current stage."""
    await upsert(session, lead_stages, {"lead_id": lead_id}, {"stage": stage.value, "source": source, "changed_at": at})


async def opportunity_views(session: AsyncSession) -> list[OpportunityView]:
    """Every opportunity as the projection needs it."""
    rows = await session.execute(
        select(
            opportunities.c.amount,
            opportunities.c.currency,
            opportunities.c.probability,
            opportunities.c.forecast_category,
            opportunities.c.expected_close_date,
            opportunities.c.status,
        )
    )
    return [
        OpportunityView(
            amount=r.amount,
            currency=r.currency,
            probability=r.probability,
            category=ForecastCategory(r.forecast_category),
            expected_close_date=r.expected_close_date,
            status=OpportunityStatus(r.status),
        )
        for r in rows
    ]


async def stage_counts(session: AsyncSession) -> dict[LeadStage, int]:
    """Leads per current stage."""
    rows = await session.execute(select(lead_stages.c.stage, func.count()).group_by(lead_stages.c.stage))
    return {LeadStage(stage): count for stage, count in rows.all()}
