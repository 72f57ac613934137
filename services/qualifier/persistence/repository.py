"""Reads and writes of the qualifier's tables, inside the caller's unit of work."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.qualifier.domain.opportunity import Opportunity
from services.qualifier.persistence.tables import (
    evidence,
    leads,
    merges,
    opportunities,
    owners,
    routing_positions,
    transitions,
)
from shared.db.batch_lookup import dialect_of
from shared.db.database import aware
from shared.db.upsert import upsert
from shared.events.vocabulary import ForecastCategory, OpportunityStatus
from shared.ids import LeadId


async def load_lead(session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
    """A lead's row, or None."""
    row = (await session.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None


async def history(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    """A lead's transitions, oldest first."""
    rows = await session.execute(select(transitions).where(transitions.c.lead_id == lead_id).order_by(transitions.c.id))
    return [dict(r) for r in rows.mappings()]


async def load_opportunity(session: AsyncSession, opportunity_id: UUID, *, lock: bool = False) -> Opportunity | None:
    """An opportunity, or None; with `lock`, no other transaction changes it until this one ends."""
    query = select(opportunities).where(opportunities.c.opportunity_id == str(opportunity_id))
    row = (await session.execute(query.with_for_update() if lock else query)).mappings().first()
    return None if row is None else _opportunity(row)


async def opportunities_of(session: AsyncSession, lead_id: str) -> list[Opportunity]:
    """A lead's opportunities, newest first."""
    query = (
        select(opportunities)
        .where(opportunities.c.lead_id == lead_id)
        .order_by(opportunities.c.opened_at.desc(), opportunities.c.opportunity_id)
    )
    return [_opportunity(row) for row in (await session.execute(query)).mappings()]


def _opportunity(row: Any) -> Opportunity:
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
        opened_at=aware(row["opened_at"]),
        changed_at=aware(row["changed_at"]),
        close_reason=row["close_reason"],
        closed_at=aware(row["closed_at"]) if row["closed_at"] else None,
    )


class StaleRevision(RuntimeError):
    """The stored opportunity is no longer at the revision the change was made from."""


async def save_opportunity(session: AsyncSession, opportunity: Opportunity, *, previous: Opportunity | None) -> None:
    """Insert an opportunity, or update it from `previous` (only while it is still stored at that revision)."""
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
    if previous is None:
        await session.execute(insert(opportunities).values(opportunity_id=oid, **values))
        return
    result = await session.execute(
        update(opportunities)
        .where(opportunities.c.opportunity_id == oid, opportunities.c.revision == previous.revision)
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleRevision(f"opportunity {oid} changed after revision {previous.revision} was read")


async def record_evidence(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep every piece of evidence a rep recorded, for the audit trail."""
    if rows:
        await session.execute(insert(evidence), rows)


async def evidence_of(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    """A lead's recorded evidence, oldest first."""
    rows = await session.execute(select(evidence).where(evidence.c.lead_id == lead_id).order_by(evidence.c.id))
    return [dict(r) for r in rows.mappings()]


@dataclass(frozen=True)
class LeadFilter:
    """What a lead search asks for; every field given must match. `text` is found in name, email or company."""

    text: str | None = None
    stage: str | None = None
    segment: str | None = None
    owner: str | None = None
    source: str | None = None


async def list_leads(session: AsyncSession, wanted: LeadFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Leads matching `wanted`, most recently changed first."""
    query = (
        select(leads)
        .where(leads.c.merged_into.is_(None))
        .order_by(leads.c.stage_changed_at.desc(), leads.c.lead_id)
        .limit(limit)
        .offset(offset)
    )
    for column, value in (
        (leads.c.stage, wanted.stage),
        (leads.c.segment, wanted.segment),
        (leads.c.owner, wanted.owner),
        (leads.c.source, wanted.source),
    ):
        if value is not None:
            query = query.where(column == value)
    if wanted.text:
        # Contains, any case: reps type part of a name, an address or a company. LIKE's own wildcards in what
        # they type are matched as themselves.
        pattern = "%" + wanted.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(*(c.ilike(pattern, escape="\\") for c in (leads.c.name, leads.c.email, leads.c.company)))
        )
    return [dict(r) for r in (await session.execute(query)).mappings()]


async def late_handoffs(session: AsyncSession, now: datetime, limit: int) -> list[LeadId]:
    """Ids of leads whose hand-off is pending past its due time, the longest overdue first."""
    rows = await session.execute(
        select(leads.c.lead_id)
        .where(leads.c.handoff_status == "pending", leads.c.handoff_due_at < now, leads.c.merged_into.is_(None))
        .order_by(leads.c.handoff_due_at)
        .limit(limit)
    )
    return [LeadId(i) for i in rows.scalars()]


async def stalled_leads(session: AsyncSession, stages: list[str], before: datetime, limit: int) -> list[LeadId]:
    """Ids of leads in `stages` with no activity or evidence since `before`."""
    rows = await session.execute(
        select(leads.c.lead_id)
        .where(leads.c.stage.in_(stages), leads.c.last_activity_at < before, leads.c.merged_into.is_(None))
        .order_by(leads.c.last_activity_at)
        .limit(limit)
    )
    return [LeadId(i) for i in rows.scalars()]


async def sync_owners(session: AsyncSession, team_of: dict[str, str]) -> None:
    """Make the owners table know every owner the rules name; removed ones stay removed."""
    known = {r.owner: r.team for r in await session.execute(select(owners.c.owner, owners.c.team))}
    for owner, team in team_of.items():
        if owner not in known:
            await session.execute(insert(owners).values(owner=owner, team=team, active=True))
        elif known[owner] != team:
            await session.execute(update(owners).where(owners.c.owner == owner).values(team=team))


async def owners_with_load(session: AsyncSession, open_stages: list[str]) -> list[dict[str, Any]]:
    """Every owner with its team, whether it is active, and how many open leads it holds."""
    loads = await owner_loads(session, open_stages)
    rows = await session.execute(select(owners).order_by(owners.c.team, owners.c.owner))
    return [dict(r) | {"load": loads.get(r["owner"], 0)} for r in rows.mappings()]


async def owner_loads(session: AsyncSession, open_stages: list[str]) -> dict[str, int]:
    """Open leads per owner."""
    rows = await session.execute(
        select(leads.c.owner, func.count())
        .where(leads.c.owner.is_not(None), leads.c.stage.in_(open_stages), leads.c.merged_into.is_(None))
        .group_by(leads.c.owner)
    )
    return {owner: count for owner, count in rows.all()}


async def inactive_owners(session: AsyncSession) -> frozenset[str]:
    """Owners who were removed."""
    return frozenset((await session.execute(select(owners.c.owner).where(owners.c.active.is_(False)))).scalars())


async def deactivate_owner(session: AsyncSession, owner: str, at: datetime) -> bool:
    """Mark an owner removed; False when there is no such active owner."""
    result = await session.execute(
        update(owners).where(owners.c.owner == owner, owners.c.active.is_(True)).values(active=False, removed_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def leads_owned_by(session: AsyncSession, owner: str, stages: list[str]) -> list[LeadId]:
    """Ids of the open leads an owner holds."""
    rows = await session.execute(select(leads.c.lead_id).where(leads.c.owner == owner, leads.c.stage.in_(stages)))
    return [LeadId(i) for i in rows.scalars()]


# The team's row exists before it is locked: a lock on a row that is not there yet locks nothing.
_ENSURE_POSITION = {
    "postgresql": postgresql_insert(routing_positions).values(position=0).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(routing_positions).values(position=0).on_conflict_do_nothing(),
}


async def routing_position(session: AsyncSession, team: str) -> int:
    """Where the team's round robin continues, locked until the transaction ends: routes of one team are made one
    at a time, so two never take the same position or both count an owner below capacity."""
    await session.execute(_ENSURE_POSITION[dialect_of(session)], {"team": team})
    found = await session.scalar(
        select(routing_positions.c.position).where(routing_positions.c.team == team).with_for_update()
    )
    return int(found or 0)


async def set_routing_position(session: AsyncSession, team: str, position: int) -> None:
    """Remember where the team's round robin continues."""
    await upsert(session, routing_positions, {"team": team}, {"position": position})


async def open_opportunities_of(session: AsyncSession, lead_id: str) -> list[UUID]:
    """Ids of a lead's open opportunities."""
    rows = await session.execute(
        select(opportunities.c.opportunity_id).where(
            opportunities.c.lead_id == lead_id, opportunities.c.status == "open"
        )
    )
    return [UUID(r) for r in rows.scalars()]


async def record_merge(session: AsyncSession, values: dict[str, Any]) -> None:
    """What a merge filled in and moved, to undo it."""
    await upsert(
        session, merges, {"merge_id": values["merge_id"]}, {k: v for k, v in values.items() if k != "merge_id"}
    )


async def take_merge(session: AsyncSession, merge_id: str) -> dict[str, Any] | None:
    """A merge's record, removed (it is being undone)."""
    row = (await session.execute(select(merges).where(merges.c.merge_id == merge_id))).mappings().first()
    if row is None:
        return None
    await session.execute(delete(merges).where(merges.c.merge_id == merge_id))
    return dict(row)


async def erase(session: AsyncSession, lead_ids: list[str]) -> None:
    """Delete what the qualifier holds of these leads (facts, evidence, history, merges); their opportunities
    stay for the revenue they were, named no longer."""
    for table in (evidence, transitions, leads):
        await session.execute(delete(table).where(table.c.lead_id.in_(lead_ids)))
    await session.execute(delete(merges).where(merges.c.source.in_(lead_ids) | merges.c.survivor.in_(lead_ids)))
    await session.execute(
        update(opportunities).where(opportunities.c.lead_id.in_(lead_ids)).values(name="(erased)", close_reason=None)
    )
