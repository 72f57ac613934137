"""Reads and writes of identity links and the merge ledger, inside the caller's unit of work."""

from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.persistence.tables import identity_links, leads, merges
from shared.db.batch_lookup import dialect_of, one_of
from shared.db.upsert import upsert_many


async def links(session: AsyncSession, keys: list[str]) -> dict[str, UUID]:
    """Where each of these keys points, for those that point somewhere other than where they derive."""
    if not keys:
        return {}
    rows = await session.execute(_links(dialect_of(session)), {"keys": sorted(set(keys))})
    return {row.key: UUID(row.lead_id) for row in rows}


@cache
def _links(dialect: str) -> Select[Any]:
    # Built once: every capture asks (see shared.db.batch_lookup for what building it per call cost).
    return select(identity_links.c.key, identity_links.c.lead_id).where(one_of(identity_links.c.key, "keys", dialect))


async def existing(session: AsyncSession, lead_ids: set[UUID]) -> set[UUID]:
    """Which of these leads intake has captured."""
    if not lead_ids:
        return set()
    rows = await session.execute(_existing(dialect_of(session)), {"ids": sorted(str(i) for i in lead_ids)})
    return {UUID(row.lead_id) for row in rows}


@cache
def _existing(dialect: str) -> Select[Any]:
    return select(leads.c.lead_id).where(one_of(leads.c.lead_id, "ids", dialect))


async def link(session: AsyncSession, targets: dict[str, UUID], merge_id: str | None = None) -> None:
    """Point keys at leads (replacing where they pointed before)."""
    if targets:
        now = datetime.now(UTC)
        rows = [
            {"key": key, "lead_id": str(lead), "merge_id": merge_id, "created_at": now}
            for key, lead in sorted(targets.items())
        ]
        await upsert_many(session, identity_links, ["key"], rows)


async def pointing_at(session: AsyncSession, lead_id: str) -> dict[str, str]:
    """Every link that points at a lead: key -> lead."""
    rows = await session.execute(select(identity_links.c.key).where(identity_links.c.lead_id == lead_id))
    return {row.key: lead_id for row in rows}


async def unlink(session: AsyncSession, keys: list[str]) -> None:
    """Remove links: those keys derive their lead again."""
    if keys:
        await session.execute(delete(identity_links).where(identity_links.c.key.in_(sorted(keys))))


async def merged_into(session: AsyncSession, lead_id: str) -> list[str]:
    """The leads merged into this one."""
    rows = await session.execute(
        select(leads.c.lead_id).where(leads.c.merged_into == lead_id).order_by(leads.c.lead_id)
    )
    return [row.lead_id for row in rows]


async def set_merged_into(session: AsyncSession, lead_ids: list[str], into: str | None) -> None:
    """Mark leads merged into another, or (None) their own again, in one statement."""
    if lead_ids:
        await session.execute(update(leads).where(leads.c.lead_id.in_(sorted(lead_ids))).values(merged_into=into))


async def record_merge(session: AsyncSession, values: dict[str, Any]) -> None:
    """Add a merge to the ledger."""
    await session.execute(merges.insert().values(**values))


async def active_merge(session: AsyncSession, source: str) -> dict[str, Any] | None:
    """The merge that holds a lead merged now, if any."""
    row = (
        (
            await session.execute(
                select(merges).where(merges.c.source == source, merges.c.unmerged_at.is_(None)).with_for_update()
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def close_merge(session: AsyncSession, merge_id: str, by: str, at: datetime) -> None:
    """Mark a merge undone."""
    await session.execute(update(merges).where(merges.c.merge_id == merge_id).values(unmerged_at=at, unmerged_by=by))


async def merges_of(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    """Every merge a lead took part in, newest first."""
    statement = (
        select(merges)
        .where((merges.c.source == lead_id) | (merges.c.survivor == lead_id))
        .order_by(merges.c.merged_at.desc())
    )
    return [dict(row) for row in (await session.execute(statement)).mappings()]
