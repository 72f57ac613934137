"""Forecast's event handlers, one per consumed event type, in one subscription."""

from collections.abc import Sequence

from services.forecast.persistence import repository
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import (
    LeadMerged,
    LeadScored,
    LeadStageChanged,
    LeadUnmerged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunitySnapshot,
    OpportunityUpdated,
)
from shared.messaging.subscription import Subscription


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


async def on_merged(uow: UnitOfWork, event: Event) -> None:
    """The same person counted once: the merged lead (and those it carried) leave the funnel."""
    payload = event.payload
    assert isinstance(payload, LeadMerged)
    leads = [event.lead_id, *(str(c) for c in payload.carried)]
    await repository.merged(uow.session, leads, str(payload.into), payload.merged_at)


async def on_unmerged(uow: UnitOfWork, event: Event) -> None:
    """A merge undone: the lead counts again."""
    payload = event.payload
    assert isinstance(payload, LeadUnmerged)
    await repository.unmerged(uow.session, event.lead_id, [str(c) for c in payload.carried])


class ProjectionBatch:
    """Nothing to read first (projections are written by key); the lead projections are saved once per batch."""

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Projections need no rows read before the events are applied."""

    async def save(self, uow: UnitOfWork) -> None:
        """Write the batch's lead stages, stage changes and segments."""
        await repository.projections(uow).save(uow)


SUBSCRIPTION = Subscription(
    {
        OpportunityOpened: on_opportunity,
        OpportunityUpdated: on_opportunity,
        OpportunityClosed: on_opportunity,
        LeadStageChanged: on_stage_changed,
        LeadScored: on_scored,
        LeadMerged: on_merged,
        LeadUnmerged: on_unmerged,
    },
    batch=ProjectionBatch(),
)
