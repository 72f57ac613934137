"""Opportunity commands from reps: open, change, close; each ends in one commit."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.qualifier.domain import opportunity as opp
from services.qualifier.domain.cause import Cause
from services.qualifier.domain.opportunity import Opportunity
from services.qualifier.domain.rules import QualifierRules
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows, save_and_commit
from services.qualifier.transitions import move, save_opportunity
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.vocabulary import LeadStage, OpportunityStatus
from shared.ids import as_lead_id


class NotFound(LookupError):
    """The lead or opportunity named does not exist here."""


class MergedLead(Exception):
    """The lead is merged into another (lead.merged): what a rep records belongs on that one."""

    def __init__(self, lead_id: object, into: str) -> None:
        super().__init__(f"lead {lead_id} is merged into {into}; record it on that lead (or unmerge this one first)")
        self.into = into


class RevisionConflict(Exception):
    """The opportunity changed since the caller read it (or a lead already has an open one)."""

    def __init__(self, message: str, current: Opportunity) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class OpportunityCommands:
    """Open, change and close opportunities on behalf of a rep."""

    uow: UnitOfWorkFactory
    rules: QualifierRules

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
        cause = Cause(actor, now, self.rules.version)
        async with self.uow() as uow:
            lead = await lead_rows(uow).get(uow.session, as_lead_id(lead_id))  # locked: an automatic open waits
            if lead is None:
                raise NotFound(f"no lead {lead_id}; a lead must be captured before it gets an opportunity")
            if lead.merged_into:
                raise MergedLead(lead_id, lead.merged_into)
            open_ones = await repository.open_opportunities_of(uow.session, str(lead_id))
            if open_ones and (found := await repository.load_opportunity(uow.session, open_ones[0])) is not None:
                raise RevisionConflict(
                    f"lead {lead_id} already has the open opportunity {found.opportunity_id}; change or close it first",
                    found,
                )
            created = opp.open_opportunity(
                self.rules.opportunities,
                lead_id=lead_id,
                name=name,
                amount=amount,
                currency=currency,
                expected_close_date=expected_close_date,
                pipeline_stage=pipeline_stage,
                owner=owner or lead.owner,
                source=lead.source,
                now=now,
            )
            if lead.stage != LeadStage.OPPORTUNITY.value:
                await move(uow, lead, LeadStage.OPPORTUNITY, cause, reason=f"opportunity {name!r} opened by {actor}")
            await save_opportunity(uow, created, cause, previous=None)
            await save_and_commit(uow)
        return created

    async def change(
        self, opportunity_id: UUID, changes: dict[str, Any], *, actor: str, expected_revision: int | None = None
    ) -> Opportunity:
        """Apply a rep's edit to an open opportunity (only to the revision the rep read, when given)."""
        now = datetime.now(UTC)
        cause = Cause(actor, now, self.rules.version)
        async with self.uow() as uow:
            current = await self._load(uow, opportunity_id, expected_revision)
            updated = opp.change(self.rules.opportunities, current, now=now, **changes)
            if updated is current:
                return current
            await save_opportunity(uow, updated, cause, previous=current)
            await save_and_commit(uow)
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
        expected_revision: int | None = None,
    ) -> Opportunity:
        """Close won or lost; the lead becomes a customer or closed_lost."""
        now = datetime.now(UTC)
        cause = Cause(actor, now, self.rules.version)
        async with self.uow() as uow:
            current = await self._load(uow, opportunity_id, expected_revision)
            closed = opp.close(current, won=won, reason=reason, amount=amount, now=now, close_date=close_date)
            await save_opportunity(uow, closed, cause, previous=current)
            lead = await lead_rows(uow).get(uow.session, as_lead_id(closed.lead_id))
            if lead is not None and lead.stage == LeadStage.OPPORTUNITY.value:
                target = LeadStage.CUSTOMER if won else LeadStage.CLOSED_LOST
                outcome = "won" if won else "lost"
                reasons = f"opportunity {closed.name!r} closed {outcome}" + (f": {reason}" if reason else "")
                await move(uow, lead, target, cause, reason=reasons)
            await save_and_commit(uow)
        return closed

    async def _load(self, uow: UnitOfWork, opportunity_id: UUID, expected_revision: int | None) -> Opportunity:
        """The opportunity, locked until the commit, so two changes apply one after the other to the latest."""
        found = await repository.load_opportunity(uow.session, opportunity_id, lock=True)
        if found is None:
            raise NotFound(f"no opportunity {opportunity_id}")
        if found.status is not OpportunityStatus.OPEN:
            raise RevisionConflict(f"opportunity {opportunity_id} is already {found.status.value}", found)
        if expected_revision is not None and found.revision != expected_revision:
            raise RevisionConflict(
                f"opportunity {opportunity_id} is at revision {found.revision}, not {expected_revision}: "
                "read it again and reapply the change",
                found,
            )
        return found
