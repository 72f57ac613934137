"""Reads and writes of the qualifier's tables, inside the caller's unit of work."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.qualifier.domain.opportunity import Opportunity
from services.qualifier.persistence.tables import leads, opportunities, transitions
from shared.events.vocabulary import ForecastCategory, OpportunityStatus


async def load_lead(session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
    """A lead's row, or None."""
    row = (await session.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None


async def insert_lead(session: AsyncSession, values: dict[str, Any]) -> None:
    """Add a lead."""
    await session.execute(insert(leads).values(**values))


async def update_lead(session: AsyncSession, lead_id: str, values: dict[str, Any]) -> None:
    """Change a lead's row."""
    await session.execute(update(leads).where(leads.c.lead_id == lead_id).values(**values))


async def add_transition(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record one stage transition."""
    await session.execute(insert(transitions).values(**values))


async def history(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    """A lead's transitions, oldest first."""
    rows = await session.execute(select(transitions).where(transitions.c.lead_id == lead_id).order_by(transitions.c.id))
    return [dict(r) for r in rows.mappings()]


async def load_opportunity(session: AsyncSession, opportunity_id: UUID) -> Opportunity | None:
    """An opportunity, or None."""
    row = (
        (await session.execute(select(opportunities).where(opportunities.c.opportunity_id == str(opportunity_id))))
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Opportunity(
        opportunity_id=UUID(row["opportunity_id"]),
        lead_id=UUID(row["lead_id"]),
        revision=row["revision"],
        name=row["name"],
        amount=row["amount"],
        currency=row["currency"],
        pipeline_stage=row["pipeline_stage"],
        probability=row["probability"],
        forecast_category=ForecastCategory(row["forecast_category"]),
        expected_close_date=row["expected_close_date"],
        status=OpportunityStatus(row["status"]),
        owner=row["owner"],
        source=row["source"],
        opened_at=_aware(row["opened_at"]),
        changed_at=_aware(row["changed_at"]),
        close_reason=row["close_reason"],
        closed_at=_aware(row["closed_at"]) if row["closed_at"] else None,
    )


async def save_opportunity(session: AsyncSession, opportunity: Opportunity, *, is_new: bool) -> None:
    """Insert or update an opportunity."""
    values = {
        "lead_id": str(opportunity.lead_id),
        "revision": opportunity.revision,
        "name": opportunity.name,
        "amount": opportunity.amount,
        "currency": opportunity.currency,
        "pipeline_stage": opportunity.pipeline_stage,
        "probability": opportunity.probability,
        "forecast_category": opportunity.forecast_category.value,
        "expected_close_date": opportunity.expected_close_date,
        "status": opportunity.status.value,
        "owner": opportunity.owner,
        "source": opportunity.source,
        "close_reason": opportunity.close_reason,
        "opened_at": opportunity.opened_at,
        "changed_at": opportunity.changed_at,
        "closed_at": opportunity.closed_at,
    }
    oid = str(opportunity.opportunity_id)
    if is_new:
        await session.execute(insert(opportunities).values(opportunity_id=oid, **values))
    else:
        await session.execute(update(opportunities).where(opportunities.c.opportunity_id == oid).values(**values))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
