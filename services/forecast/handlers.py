"""Forecast's event handlers, one per consumed event type: what forecast consumes is this table."""

from collections.abc import Sequence

from services.forecast.persistence import repository
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import (
    LeadHandoffChanged,
    LeadMerged,
    LeadScored,
    LeadStageChanged,
    LeadUnmerged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunitySnapshot,
    OpportunityUpdated,
)
from shared.messaging.subscription import Consumes, On, Subscription


class ProjectionBatch:
    """Nothing to read first (projections are written by key); the lead projections are saved once per batch."""

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Projections need no rows read before the events are applied."""

    async def save(self, uow: UnitOfWork) -> None:
        """Write the batch's lead stages, stage changes and segments."""
        await repository.projections(uow).save(uow)


async def on_opportunity(_: ProjectionBatch, uow: UnitOfWork, event: Event[OpportunitySnapshot]) -> None:
    """Keep the latest snapshot of each opportunity."""
    await repository.apply_snapshot(uow.session, event.payload)


async def on_stage_changed(_: ProjectionBatch, uow: UnitOfWork, event: Event[LeadStageChanged]) -> None:
    """Keep each lead's current stage and every change, for the funnel."""
    repository.projections(uow).stage_changed(event.lead_id, event.payload)


async def on_scored(_: ProjectionBatch, uow: UnitOfWork, event: Event[LeadScored]) -> None:
    """Keep each lead's segment for the funnel by segment."""
    repository.projections(uow).segment(event.lead_id, event.payload.segment, event.payload.scored_at)


async def on_handoff(_: ProjectionBatch, uow: UnitOfWork, event: Event[LeadHandoffChanged]) -> None:
    """Keep each hand-off decision, for time to accept and rejections by reason."""
    await repository.record_handoff(uow.session, event.lead_id, event.payload)


async def on_merged(_: ProjectionBatch, uow: UnitOfWork, event: Event[LeadMerged]) -> None:
    """The same person counted once: the merged lead (and those it carried) leave the funnel."""
    payload = event.payload
    leads = [event.lead_id, *(str(c) for c in payload.carried)]
    await repository.merged(uow.session, leads, str(payload.into), payload.merged_at)


async def on_unmerged(_: ProjectionBatch, uow: UnitOfWork, event: Event[LeadUnmerged]) -> None:
    """A merge undone: the lead counts again."""
    await repository.unmerged(uow.session, event.lead_id, [str(c) for c in event.payload.carried])


CONSUMES = Consumes[ProjectionBatch](
    (
        On(OpportunityOpened, on_opportunity),
        On(OpportunityUpdated, on_opportunity),
        On(OpportunityClosed, on_opportunity),
        On(LeadStageChanged, on_stage_changed),
        On(LeadHandoffChanged, on_handoff),
        On(LeadScored, on_scored),
        On(LeadMerged, on_merged),
        On(LeadUnmerged, on_unmerged),
    )
)


def subscription() -> Subscription[ProjectionBatch]:
    """Forecast's handlers, each transaction saving the lead projections once."""
    return Subscription(CONSUMES, ProjectionBatch)
