"""The qualifier's writes inside a unit of work: each changes a row and emits the event that says so."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from services.qualifier import SERVICE
from services.qualifier.domain.cause import Cause
from services.qualifier.domain.frameworks import CriterionVerdict
from services.qualifier.domain.lead import Lead
from services.qualifier.domain.opportunity import Opportunity
from services.qualifier.domain.stages import check_transition
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import new_event
from shared.events.models import (
    CriterionResult,
    LeadHandoffChanged,
    LeadOwnerChanged,
    LeadStageChanged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunitySnapshot,
    OpportunityUpdated,
)
from shared.events.vocabulary import LeadStage

SOURCE = f"/leadflow/{SERVICE}"


async def move(
    uow: UnitOfWork,
    lead: Lead,
    target: LeadStage,
    cause: Cause,
    *,
    reason: str,
    criteria: Sequence[CriterionVerdict] = (),
) -> None:
    """Move a lead to `target` (legal moves only), record the transition and emit lead.stage_changed."""
    current = LeadStage(lead.stage) if lead.stage else None
    if current is not None:
        check_transition(current, target)
    reported = reported_criteria(criteria)
    event = new_event(
        LeadStageChanged(
            lead_id=UUID(lead.lead_id),
            from_stage=current,
            to_stage=target,
            reason=reason,
            decided_by=cause.actor,
            criteria=reported,
            rules_version=cause.rules_version,
            owner=lead.owner,
            source=lead.source,
            campaign=lead.campaign,
            changed_at=cause.at,
        ),
        source=SOURCE,
        correlation_id=cause.correlation_id,
    )
    uow.emit(event)
    lead_rows(uow).transition(
        {
            "lead_id": lead.lead_id,
            "from_stage": current.value if current else None,
            "to_stage": target.value,
            "reason": reason,
            "decided_by": cause.actor,
            "criteria": [c.model_dump(mode="json") for c in reported],
            "rules_version": cause.rules_version,
            "event_id": event.id,
            "changed_at": cause.at,
        },
    )
    lead.stage, lead.stage_changed_at = target.value, cause.at


def set_owner(uow: UnitOfWork, lead: Lead, owner: str | None, cause: Cause, *, team: str | None, reason: str) -> None:
    """Give the lead an owner and emit lead.owner_changed."""
    previous = lead.owner
    if previous == owner:
        return
    lead.owner, lead.team = owner, team
    uow.emit(
        new_event(
            LeadOwnerChanged(
                lead_id=UUID(lead.lead_id),
                from_owner=previous,
                to_owner=owner,
                team=team,
                reason=reason,
                changed_at=cause.at,
            ),
            source=SOURCE,
            correlation_id=cause.correlation_id,
        )
    )


async def save_opportunity(
    uow: UnitOfWork, opportunity: Opportunity, cause: Cause, *, previous: Opportunity | None
) -> None:
    """Store an opportunity and emit opened, updated or closed with its full snapshot."""
    await repository.save_opportunity(uow.session, opportunity, previous=previous)
    fields = {
        name: getattr(opportunity, name) for name in OpportunitySnapshot.model_fields if hasattr(opportunity, name)
    }
    if previous is None:
        payload: OpportunitySnapshot = OpportunityOpened(**fields)
    elif opportunity.closed_at is not None:
        payload = OpportunityClosed(**fields, close_reason=opportunity.close_reason, closed_at=opportunity.closed_at)
    else:
        payload = OpportunityUpdated(**fields)
    uow.emit(new_event(payload, source=SOURCE, correlation_id=cause.correlation_id))


def reported_criteria(criteria: Sequence[CriterionVerdict]) -> list[CriterionResult]:
    """The domain's verdicts as the events' (and the API's) CriterionResult."""
    return [
        CriterionResult(framework=c.framework, criterion=c.criterion, outcome=c.outcome, evidence=c.evidence)
        for c in criteria
    ]


def handoff_changed(uow: UnitOfWork, lead: Lead, status: str, cause: Cause, **details: Any) -> None:
    """Set the lead's hand-off status and emit lead.handoff_changed (what the owner did, or the SLA)."""
    owner = details.pop("owner", None) or lead.owner
    assert owner is not None, "a hand-off is always to an owner"
    lead.handoff_status = "pending" if status == "assigned" else status
    uow.emit(
        new_event(
            LeadHandoffChanged(
                lead_id=UUID(lead.lead_id),
                status=status,
                owner=owner,
                team=lead.team,
                segment=lead.segment,
                decided_by=cause.actor,
                changed_at=cause.at,
                **details,
            ),
            source=SOURCE,
            correlation_id=cause.correlation_id,
        )
    )
