"""Qualifier's event handlers, one per consumed event type: learn, then re-qualify.

What the qualifier consumes is the `CONSUMES` table."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from services.qualifier.commands.qualification import Qualifier
from services.qualifier.domain.cause import Cause
from services.qualifier.domain.facts import with_activity, with_captured, with_score
from services.qualifier.domain.lead import Lead
from services.qualifier.merges import Merges
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows
from services.qualifier.transitions import move
from shared.db.erasure import forget
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import LeadActivity, LeadCaptured, LeadMerged, LeadScored, LeadUnmerged, PersonErased
from shared.events.vocabulary import LeadStage
from shared.ids import LeadId, as_lead_id
from shared.messaging.subscription import Consumes, On, Subscription


class LeadBatch:
    """The qualifier's batch: every lead of the transaction read (and locked) at once; each event adds to what is
    known of a lead, and every addition re-runs qualification; the leads are written at once."""

    def __init__(self, qualifier: Qualifier) -> None:
        self.qualifier = qualifier
        self.merges = Merges(qualifier, self.lead_row)

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Read (and lock) every lead of a consumed batch in one query before its events are applied."""
        ids = [event.lead_id for event in events]
        ids += [as_lead_id(e.payload.into) for e in events if isinstance(e.payload, LeadMerged)]
        ids += [as_lead_id(e.payload.from_lead) for e in events if isinstance(e.payload, LeadUnmerged)]
        await lead_rows(uow).preload(uow.session, ids)

    async def save(self, uow: UnitOfWork) -> None:
        """Write every lead the batch changed, and its transitions, in a few statements."""
        await lead_rows(uow).save(uow)

    async def learn(
        self, uow: UnitOfWork, event: Event, learned: Callable[[Lead], None], *, activity_at: datetime | None
    ) -> None:
        """Apply what an event tells of its lead (`learned` changes the lead in place), then re-qualify it."""
        if lead_rows(uow).erased(event.lead_id):
            return  # erased earlier in this batch
        cause = self.qualifier.cause(_decider(event), datetime.now(UTC), event.envelope.correlationid)
        lead = await self._lead(uow, event.lead_id, cause, enter=False)
        learned(lead)
        if lead.stage is None:  # new: it enters the funnel knowing what this event said (source, campaign)
            await self.enter(uow, lead, cause)
        lead.updated_at = cause.at
        if activity_at is not None and (lead.last_activity_at is None or activity_at > lead.last_activity_at):
            lead.last_activity_at = activity_at
        await self.qualifier.requalify(uow, lead, cause)

    async def _lead(self, uow: UnitOfWork, lead_id: LeadId, cause: Cause, *, enter: bool = True) -> Lead:
        """The lead, created the first time any event names it; news about a merged lead (sent before the merge,
        or arriving late) belongs to the lead it is merged into."""
        lead = await self.lead_row(uow, lead_id, cause, enter=enter)
        if lead.merged_into:
            return await self.lead_row(uow, lead.merged_into, cause)
        return lead

    async def lead_row(self, uow: UnitOfWork, lead_id: LeadId, cause: Cause, *, enter: bool = True) -> Lead:
        """The lead as this transaction sees it; one nobody named before is created, and enters the funnel at
        stage `lead` now (or, without `enter`, when the caller has told it what it knows: see `enter`). Its row
        is written at the batch's save."""
        rows = lead_rows(uow)
        lead = await rows.get(uow.session, lead_id)
        if lead is not None:
            return lead
        lead = Lead(lead_id=lead_id, stage=None, stage_changed_at=cause.at, updated_at=cause.at)
        rows.insert(lead)
        if enter:
            await self.enter(uow, lead, cause)
        return lead

    @staticmethod
    async def enter(uow: UnitOfWork, lead: Lead, cause: Cause) -> None:
        """A new lead's first stage, `lead`."""
        await move(uow, lead, LeadStage.LEAD, replace(cause, actor="qualifier"), reason="entered the funnel")


async def on_captured(batch: LeadBatch, uow: UnitOfWork, event: Event[LeadCaptured]) -> None:
    """A new lead enters the funnel; a known one adds what it told us this time."""
    payload = event.payload

    def learned(lead: Lead) -> None:
        lead.facts = with_captured(lead.facts, payload)
        lead.name = payload.contact.full_name() or lead.name
        lead.email = str(payload.contact.email) if payload.contact.email else lead.email
        lead.phone = payload.contact.phone or lead.phone
        lead.job_title = payload.contact.job_title or lead.job_title
        lead.company = payload.company.name or lead.company
        lead.country = payload.company.country or lead.country
        lead.source = payload.source.provider or lead.source
        lead.campaign = payload.source.utm_campaign or lead.campaign

    await batch.learn(uow, event, learned, activity_at=payload.captured_at)


async def on_activity(batch: LeadBatch, uow: UnitOfWork, event: Event[LeadActivity]) -> None:
    """Engagement can make a stalled lead live again and a prospect interested."""
    payload = event.payload

    def learned(lead: Lead) -> None:
        lead.facts = with_activity(lead.facts, payload)

    await batch.learn(uow, event, learned, activity_at=payload.occurred_at)


async def on_scored(batch: LeadBatch, uow: UnitOfWork, event: Event[LeadScored]) -> None:
    """The scorer's verdict decides lead and mql, and feeds the interest criteria."""
    payload = event.payload

    def learned(lead: Lead) -> None:
        lead.facts = with_score(lead.facts, payload)
        changed = lead.segment != payload.segment.value
        lead.score, lead.segment, lead.mql = payload.score, payload.segment.value, payload.mql
        lead.probability = payload.probability
        if changed:
            batch.qualifier.segment_changed(lead)

    await batch.learn(uow, event, learned, activity_at=None)


async def on_merged(batch: LeadBatch, uow: UnitOfWork, event: Event[LeadMerged]) -> None:
    """The lead is the same person as another: it points at that one, which gets what it lacked."""
    await batch.merges.merged(uow, event)


async def on_unmerged(batch: LeadBatch, uow: UnitOfWork, event: Event[LeadUnmerged]) -> None:
    """A merge undone: both leads get back what was theirs."""
    await batch.merges.unmerged(uow, event)


async def on_erased(_: LeadBatch, uow: UnitOfWork, event: Event[PersonErased]) -> None:
    """The person asked to be forgotten: their facts, evidence and history go, and so do the stage and
    opportunity events this service published about them; opportunities keep their amounts, unnamed."""
    lead_rows(uow).forget(event.lead_id)
    await repository.erase(uow.session, [event.lead_id])
    await forget(uow, [event.lead_id], event.payload.erased_at)


CONSUMES = Consumes[LeadBatch](
    (
        On(LeadCaptured, on_captured),
        On(LeadActivity, on_activity),
        On(LeadScored, on_scored),
        On(LeadMerged, on_merged),
        On(LeadUnmerged, on_unmerged),
        On(PersonErased, on_erased),
    ),
    decision="stage",
)


def subscription(qualifier: Qualifier) -> Subscription[LeadBatch]:
    """The qualifier's handlers, each transaction qualifying by `qualifier`'s rules."""
    return Subscription(CONSUMES, lambda: LeadBatch(qualifier))


def _decider(event: Event) -> str:
    return "scorer" if isinstance(event.payload, LeadScored) else "qualifier"
