"""Forecast's event handlers, one per consumed event type, in one registry."""

from collections.abc import Mapping

from services.forecast.persistence import repository
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import (
    EventPayload,
    LeadScored,
    LeadStageChanged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunitySnapshot,
    OpportunityUpdated,
)
from shared.messaging.consumer import Handler


async def on_opportunity(uow: UnitOfWork, event: Event) -> None:
    """Keep the latest snapshot of each opportunity."""
    assert isinstance(event.payload, OpportunitySnapshot)
    await repository.apply_snapshot(uow.session, event.payload)


async def on_stage_changed(uow: UnitOfWork, event: Event) -> None:
    """Keep each lead's current stage and every change, for the funnel."""
    payload = event.payload
    assert isinstance(payload, LeadStageChanged)
    repository.projections(uow).stage_changed(event.lead_id, payload)


async def on_scored(uow: UnitOfWork, event: Event) -> None:
    """Keep each lead's segment for the funnel by segment."""
    payload = event.payload
    assert isinstance(payload, LeadScored)
    repository.projections(uow).segment(event.lead_id, payload.segment, payload.scored_at)


HANDLERS: Mapping[type[EventPayload], Handler] = {
    OpportunityOpened: on_opportunity,
    OpportunityUpdated: on_opportunity,
    OpportunityClosed: on_opportunity,
    LeadStageChanged: on_stage_changed,
    LeadScored: on_scored,
}
