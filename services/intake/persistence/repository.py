"""Reads and writes of intake's tables, inside the caller's unit of work."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.persistence.tables import deliveries, leads


@dataclass(frozen=True)
class DeliveryRecord:
    """The result a delivery got the first time, to answer its retries with."""

    event_id: str
    lead_id: str


async def find_delivery(session: AsyncSession, provider: str, delivery_id: str) -> DeliveryRecord | None:
    """The original outcome of a delivery, if it was accepted before."""
    row = (
        await session.execute(
            select(deliveries.c.event_id, deliveries.c.lead_id).where(
                deliveries.c.provider == provider, deliveries.c.delivery_id == delivery_id
            )
        )
    ).first()
    return DeliveryRecord(row.event_id, row.lead_id) if row else None


async def record_delivery(session: AsyncSession, provider: str, delivery_id: str, record: DeliveryRecord) -> None:
    """Remember a delivery; a concurrent duplicate fails on the primary key."""
    await session.execute(
        insert(deliveries).values(
            provider=provider,
            delivery_id=delivery_id,
            event_id=record.event_id,
            lead_id=record.lead_id,
            received_at=datetime.now(UTC),
        )
    )


async def load_lead(session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
    """The stored profile of a lead."""
    row = (await session.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
    if row is None:
        return None
    profile = dict(row)
    for key in ("first_seen_at", "last_seen_at"):
        if profile[key] is not None and profile[key].tzinfo is None:
            profile[key] = profile[key].replace(tzinfo=UTC)  # SQLite drops the zone
    return profile


async def save_lead(session: AsyncSession, lead_id: str, profile: dict[str, Any], *, is_new: bool) -> None:
    """Insert or update a lead's profile."""
    values = {k: v for k, v in profile.items() if k != "lead_id"}
    if is_new:
        await session.execute(insert(leads).values(lead_id=lead_id, **values))
    else:
        await session.execute(update(leads).where(leads.c.lead_id == lead_id).values(**values))
