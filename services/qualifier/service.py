"""Qualifier's commands: stage moves and the opportunity lifecycle, each ending in one commit."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.qualifier import SERVICE
from services.qualifier.domain import opportunity as opp
from services.qualifier.domain.opportunity import Opportunity
from services.qualifier.domain.rules import OpportunityRules
from services.qualifier.domain.stages import check_transition
from services.qualifier.persistence import repository
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import new_event
from shared.events.models import (
    LeadStageChanged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunitySnapshot,
    OpportunityUpdated,
)
from shared.events.vocabulary import LeadStage

SOURCE = f"/leadflow/{SERVICE}"


class NotFound(LookupError):
    """The lead or opportunity named does not exist here."""


async def move(
    uow: UnitOfWork,
    lead: dict[str, Any],
    target: LeadStage,
    *,
    reason: str,
    decided_by: str,
    rules_version: str,
    now: datetime,
    correlation_id: str | None = None,
) -> None:
    """Move a lead to `target` (legal moves only), record the transition and emit lead.stage_changed."""
    current = LeadStage(lead["stage"]) if lead.get("stage") else None
    if current is not None:
        check_transition(current, target)
    event = new_event(
        LeadStageChanged(
            lead_id=UUID(lead["lead_id"]),
            from_stage=current,
            to_stage=target,
            reason=reason,
            decided_by=decided_by,
            rules_version=rules_version,
            owner=lead.get("owner"),
            source=lead.get("source"),
            changed_at=now,
        ),
        source=SOURCE,
        correlation_id=correlation_id,
    )
    uow.emit(event)
    await repository.add_transition(
        uow.session,
        {
            "lead_id": lead["lead_id"],
            "from_stage": current.value if current else None,
            "to_stage": target.value,
            "reason": reason,
            "decided_by": decided_by,
            "criteria": [],
            "rules_version": rules_version,
            "event_id": event.id,
            "changed_at": now,
        },
    )
    lead["stage"] = target.value
    await repository.update_lead(uow.session, lead["lead_id"], {"stage": target.value, "stage_changed_at": now})


@dataclass(frozen=True)
class OpportunityCommands:
    """Open, change and close opportunities on behalf of a rep."""

    uow: UnitOfWorkFactory
    rules: OpportunityRules
    rules_version: str

    async def open(
        self,
        *,
        lead_id: UUID,
        name: str,
        amount: Decimal,
        currency: str | None,
        expected_close_date: date,
        pipeline_stage: str | None,
        owner: str | None,
        actor: str,
    ) -> Opportunity:
        """Open an opportunity for a known lead and move the lead to the opportunity stage."""
        now = datetime.now(UTC)
        async with self.uow() as uow:
            lead = await repository.load_lead(uow.session, str(lead_id))
            if lead is None:
                raise NotFound(f"no lead {lead_id}; a lead must be captured before it gets an opportunity")
            created = opp.open_opportunity(
                self.rules,
                lead_id=lead_id,
                name=name,
                amount=amount,
                currency=currency,
                expected_close_date=expected_close_date,
                pipeline_stage=pipeline_stage,
                owner=owner or lead.get("owner"),
                source=lead.get("source"),
                now=now,
            )
            if lead["stage"] != LeadStage.OPPORTUNITY.value:
                await move(
                    uow,
                    lead,
                    LeadStage.OPPORTUNITY,
                    reason=f"opportunity {name!r} opened by {actor}",
                    decided_by=actor,
                    rules_version=self.rules_version,
                    now=now,
                )
            await repository.save_opportunity(uow.session, created, is_new=True)
            uow.emit(new_event(OpportunityOpened(**_snapshot(created)), source=SOURCE))
            await uow.commit()
        return created

    async def change(self, opportunity_id: UUID, changes: dict[str, Any]) -> Opportunity:
        """Apply a rep's edit to an open opportunity."""
        now = datetime.now(UTC)
        async with self.uow() as uow:
            current = await self._load(uow, opportunity_id)
            updated = opp.change(self.rules, current, now=now, **changes)
            if updated is current:
                return current
            await repository.save_opportunity(uow.session, updated, is_new=False)
            uow.emit(new_event(OpportunityUpdated(**_snapshot(updated)), source=SOURCE))
            await uow.commit()
        return updated

    async def close(
        self,
        opportunity_id: UUID,
        *,
        won: bool,
        reason: str | None,
        amount: Decimal | None,
        actor: str,
        close_date: date | None = None,
    ) -> Opportunity:
        """Close won or lost; the lead becomes a customer or closed_lost."""
        now = datetime.now(UTC)
        async with self.uow() as uow:
            current = await self._load(uow, opportunity_id)
            closed = opp.close(current, won=won, reason=reason, amount=amount, now=now, close_date=close_date)
            await repository.save_opportunity(uow.session, closed, is_new=False)
            assert closed.closed_at is not None
            uow.emit(
                new_event(
                    OpportunityClosed(**_snapshot(closed), close_reason=reason, closed_at=closed.closed_at),
                    source=SOURCE,
                )
            )
            lead = await repository.load_lead(uow.session, str(closed.lead_id))
            if lead is not None and lead["stage"] == LeadStage.OPPORTUNITY.value:
                target = LeadStage.CUSTOMER if won else LeadStage.CLOSED_LOST
                outcome = "won" if won else "lost"
                await move(
                    uow,
                    lead,
                    target,
                    reason=f"opportunity {closed.name!r} closed {outcome}" + (f": {reason}" if reason else ""),
                    decided_by=actor,
                    rules_version=self.rules_version,
                    now=now,
                )
            await uow.commit()
        return closed

    async def _load(self, uow: UnitOfWork, opportunity_id: UUID) -> Opportunity:
        found = await repository.load_opportunity(uow.session, opportunity_id)
        if found is None:
            raise NotFound(f"no opportunity {opportunity_id}")
        return found


def _snapshot(o: Opportunity) -> dict[str, Any]:
    fields = OpportunitySnapshot.model_fields
    return {name: getattr(o, name) for name in fields if hasattr(o, name)}
