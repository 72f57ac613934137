"""The hand-off from marketing to sales: the owner routing chose accepts a lead, or rejects it with a reason (it
goes back to nurture, and the reason is counted); a hand-off nobody accepts within its SLA is breached, and the
rules say whether it is rerouted to another owner or escalated."""

from datetime import UTC, datetime
from uuid import UUID

from services.qualifier.commands.opportunities import MergedLead, NotFound
from services.qualifier.commands.qualification import Qualifier
from services.qualifier.domain.lead import Lead
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows, save_and_commit
from services.qualifier.transitions import handoff_changed, move, set_owner
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.vocabulary import LeadStage
from shared.ids import as_lead_id

_SWEEP_BATCH = 200


class HandoffRefused(Exception):
    """The lead has no hand-off waiting for this caller (none pending, or another owner's)."""


class UnknownReason(ValueError):
    """A rejection reason the rules do not list."""


class Handoffs:
    """Accept, reject and the SLA sweep."""

    def __init__(self, uow: UnitOfWorkFactory, qualifier: Qualifier) -> None:
        self._uow = uow
        self._qualifier = qualifier
        self._rules = qualifier.rules.routing.handoff

    async def accept(self, lead_id: UUID, *, actor: str, on_behalf: bool = False) -> None:
        """The owner takes the lead (`on_behalf`: an admin for them)."""
        now = datetime.now(UTC)
        async with self._uow() as uow:
            lead = await self._waiting(uow, lead_id, actor, on_behalf)
            cause = self._qualifier.cause(actor, now)
            handoff_changed(uow, lead, "accepted", cause, waited_s=self._waited(lead, now))
            await save_and_commit(uow)

    async def reject(
        self, lead_id: UUID, *, reason: str, note: str | None, actor: str, on_behalf: bool = False
    ) -> None:
        """The owner hands the lead back: to nurture, unowned, with the reason (from the rules' list) recorded
        on the hand-off and on the stage change."""
        if reason not in self._rules.reject_reasons:
            raise UnknownReason(
                f"reason {reason!r} is not one of {self._rules.reject_reasons} (rules: routing.handoff)"
            )
        now = datetime.now(UTC)
        async with self._uow() as uow:
            lead = await self._waiting(uow, lead_id, actor, on_behalf)
            cause = self._qualifier.cause(actor, now)
            owner = lead.owner
            handoff_changed(uow, lead, "rejected", cause, reason=reason, note=note, waited_s=self._waited(lead, now))
            said = f"rejected by {owner}: {reason}" + (f" ({note})" if note else "")
            if LeadStage.NURTURE.value != lead.stage:
                await move(uow, lead, LeadStage.NURTURE, cause, reason=said)
            set_owner(uow, lead, None, cause, team=None, reason=said)
            lead.handoff_due_at = None
            await save_and_commit(uow)

    async def sweep(self, now: datetime | None = None) -> int:
        """Breach every pending hand-off past its due time: reroute it or escalate it, as the rules say."""
        now = now or datetime.now(UTC)
        async with self._uow() as uow:
            late = await repository.late_handoffs(uow.session, now, _SWEEP_BATCH)
        breached = 0
        for lead_id in late:
            async with self._uow() as uow:
                lead = await lead_rows(uow).get(uow.session, lead_id)
                # Read again under the lead's lock: accepted or rerouted since the list was made.
                if lead is None or lead.handoff_status != "pending" or not lead.handoff_due_at:
                    continue
                if lead.handoff_due_at > now or not lead.owner:
                    continue
                await self._breach(uow, lead, now)
                await save_and_commit(uow)
                breached += 1
        return breached

    async def _breach(self, uow: UnitOfWork, lead: Lead, now: datetime) -> None:
        cause = self._qualifier.cause("qualifier (hand-off SLA)", now)
        late_owner = lead.owner
        waited = self._waited(lead, now)
        if self._rules.on_breach == "escalate":
            handoff_changed(
                uow, lead, "breached", cause, waited_s=waited, action="escalated", escalated_to=self._rules.escalate_to
            )
            return
        handoff_changed(uow, lead, "breached", cause, waited_s=waited, action="rerouted")
        await self._qualifier.route(uow, lead, cause, exclude=frozenset({late_owner} if late_owner else set()))

    async def _waiting(self, uow: UnitOfWork, lead_id: UUID, actor: str, on_behalf: bool) -> Lead:
        lead = await lead_rows(uow).get(uow.session, as_lead_id(lead_id))
        if lead is None:
            raise NotFound(f"no lead {lead_id} has reached the qualifier yet")
        if lead.merged_into:
            raise MergedLead(lead_id, lead.merged_into)
        if lead.handoff_status not in ("pending", "breached") or not lead.owner:
            raise HandoffRefused(f"lead {lead_id} has no hand-off waiting (status: {lead.handoff_status or 'none'})")
        person = actor.split(" via ", 1)[0]
        if person != lead.owner and not on_behalf:
            raise HandoffRefused(f"lead {lead_id} was handed to {lead.owner}, not to {person}")
        return lead

    def _waited(self, lead: Lead, now: datetime) -> float | None:
        if lead.handoff_at is None:
            return None
        return round((now - lead.handoff_at).total_seconds(), 1)
