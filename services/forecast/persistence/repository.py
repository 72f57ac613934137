"""Reads and writes of the forecast's projections, inside the caller's unit of work."""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.forecast.domain.funnel import HandoffDecision, StageChange
from services.forecast.domain.history import Revision
from services.forecast.persistence.tables import (
    handoffs,
    lead_segments,
    lead_stages,
    merged_leads,
    opportunities,
    opportunity_revisions,
    stage_changes,
)
from shared.db.database import aware
from shared.db.unit_of_work import UnitOfWork
from shared.db.upsert import upsert, upsert_many
from shared.events.models import LeadHandoffChanged, LeadStageChanged, OpportunityClosed, OpportunitySnapshot
from shared.events.vocabulary import ForecastCategory, LeadStage, OpportunityStatus, Segment


async def apply_snapshot(session: AsyncSession, snapshot: OpportunitySnapshot) -> bool:
    """Keep the revision in the history, and as the latest state unless a newer one is stored; True when latest."""
    oid = str(snapshot.opportunity_id)
    values = _snapshot_values(snapshot)
    revision = {k: v for k, v in values.items() if k != "revision"}
    await upsert(session, opportunity_revisions, {"opportunity_id": oid, "revision": snapshot.revision}, revision)
    stored = await session.scalar(select(opportunities.c.revision).where(opportunities.c.opportunity_id == oid))
    if stored is not None and stored >= snapshot.revision:
        return False
    if stored is None:
        await session.execute(insert(opportunities).values(opportunity_id=oid, **values))
    else:
        await session.execute(update(opportunities).where(opportunities.c.opportunity_id == oid).values(**values))
    return True


def _snapshot_values(snapshot: OpportunitySnapshot) -> dict[str, Any]:
    closed = snapshot if isinstance(snapshot, OpportunityClosed) else None
    return {
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
        "closed_at": closed.closed_at if closed else None,
        "close_reason": closed.close_reason if closed else None,
        "changed_at": snapshot.changed_at,
    }


class LeadProjections:
    """Lead stages, stage changes and segments of one batch, written in three statements by `save`."""

    def __init__(self) -> None:
        self._stages: dict[str, dict[str, Any]] = {}
        self._changes: list[dict[str, Any]] = []
        self._segments: dict[str, dict[str, Any]] = {}

    def stage_changed(self, lead_id: str, change: LeadStageChanged) -> None:
        """A lead's current stage (the last one applied wins) and the change itself, for the funnel's cohorts."""
        at = change.changed_at
        self._stages[lead_id] = {
            "lead_id": lead_id,
            "stage": change.to_stage.value,
            "source": change.source,
            "changed_at": at,
        }
        self._changes.append(
            {
                "lead_id": lead_id,
                "from_stage": change.from_stage.value if change.from_stage else None,
                "to_stage": change.to_stage.value,
                "source": change.source,
                "campaign": change.campaign,
                "owner": change.owner,
                "changed_at": at,
            }
        )

    def segment(self, lead_id: str, segment: Segment, at: datetime) -> None:
        """A lead's current score segment, for the funnel by segment."""
        self._segments[lead_id] = {"lead_id": lead_id, "segment": segment.value, "scored_at": at}

    def unsaved(self) -> bool:
        """Whether changes wait for `save`."""
        return bool(self._stages or self._changes or self._segments)

    async def save(self, uow: UnitOfWork) -> None:
        """Write what this batch learned."""
        session = uow.session
        await upsert_many(session, lead_stages, ["lead_id"], list(self._stages.values()))
        if self._changes:
            await session.execute(insert(stage_changes), self._changes)
        await upsert_many(session, lead_segments, ["lead_id"], list(self._segments.values()))
        self._stages, self._changes, self._segments = {}, [], {}


def projections(uow: UnitOfWork) -> LeadProjections:
    """This transaction's lead projections."""
    return uow.state("forecast.lead_projections", LeadProjections)


async def revisions(session: AsyncSession, until: datetime | None = None) -> list[Revision]:
    """Every opportunity revision (effective by `until`), oldest first."""
    query = select(opportunity_revisions).order_by(opportunity_revisions.c.changed_at)
    if until is not None:
        query = query.where(opportunity_revisions.c.changed_at <= until)
    rows = (await session.execute(query)).mappings()
    return [
        Revision(
            opportunity_id=r["opportunity_id"],
            revision=r["revision"],
            amount=r["amount"],
            currency=r["currency"],
            pipeline_stage=r["pipeline_stage"],
            probability=r["probability"],
            category=ForecastCategory(r["forecast_category"]),
            expected_close_date=r["expected_close_date"],
            status=OpportunityStatus(r["status"]),
            source=r["source"],
            owner=r["owner"],
            opened_at=aware(r["opened_at"]),
            changed_at=aware(r["changed_at"]),
            closed_at=aware(r["closed_at"]) if r["closed_at"] else None,
            close_reason=r["close_reason"],
            lead_id=r["lead_id"],
        )
        for r in rows
    ]


async def record_handoff(session: AsyncSession, lead_id: str, payload: LeadHandoffChanged) -> None:
    """Keep one hand-off decision."""
    await session.execute(
        insert(handoffs).values(
            lead_id=lead_id,
            status=payload.status,
            reason=payload.reason,
            owner=payload.owner,
            waited_s=payload.waited_s,
            decided_at=payload.changed_at,
        )
    )


async def handoff_decisions(session: AsyncSession, start: datetime, end: datetime) -> list[HandoffDecision]:
    """Hand-off decisions made in [start, end), merged leads left out like in the funnel."""
    rows = await session.execute(
        select(handoffs)
        .where(
            handoffs.c.decided_at >= start,
            handoffs.c.decided_at < end,
            handoffs.c.lead_id.not_in(select(merged_leads.c.lead_id)),
        )
        .order_by(handoffs.c.decided_at, handoffs.c.id)
    )
    return [
        HandoffDecision(r["lead_id"], r["status"], r["reason"], r["waited_s"], aware(r["decided_at"]))
        for r in rows.mappings()
    ]


async def stage_history(session: AsyncSession) -> list[StageChange]:
    """Every stage change with the lead's segment, oldest first."""
    rows = await session.execute(
        select(stage_changes, lead_segments.c.segment)
        .outerjoin(lead_segments, lead_segments.c.lead_id == stage_changes.c.lead_id)
        .where(stage_changes.c.lead_id.not_in(select(merged_leads.c.lead_id)))
        .order_by(stage_changes.c.changed_at, stage_changes.c.id)
    )
    return [
        StageChange(
            lead_id=r["lead_id"],
            from_stage=LeadStage(r["from_stage"]) if r["from_stage"] else None,
            to_stage=LeadStage(r["to_stage"]),
            source=r["source"],
            owner=r["owner"],
            segment=r["segment"],
            campaign=r["campaign"],
            changed_at=aware(r["changed_at"]),
        )
        for r in rows.mappings()
    ]


async def stage_counts(session: AsyncSession) -> dict[LeadStage, int]:
    """Leads per current stage."""
    rows = await session.execute(
        select(lead_stages.c.stage, func.count())
        .where(lead_stages.c.lead_id.not_in(select(merged_leads.c.lead_id)))
        .group_by(lead_stages.c.stage)
    )
    return {LeadStage(stage): count for stage, count in rows.all()}


async def merged(session: AsyncSession, lead_ids: list[str], into: str, at: datetime) -> None:
    """These leads count as `into` now: out of the funnel while they are merged."""
    rows = [{"lead_id": lead_id, "merged_into": into, "merged_at": at} for lead_id in sorted(lead_ids)]
    await upsert_many(session, merged_leads, ["lead_id"], rows)


async def unmerged(session: AsyncSession, lead_id: str, carried: list[str]) -> None:
    """The lead counts again on its own; those it carried stay merged, into it again."""
    await session.execute(delete(merged_leads).where(merged_leads.c.lead_id == lead_id))
    if carried:
        await session.execute(
            update(merged_leads).where(merged_leads.c.lead_id.in_(sorted(carried))).values(merged_into=lead_id)
        )
