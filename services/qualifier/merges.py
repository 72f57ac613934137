"""lead.merged and lead.unmerged in the qualifier: the merged lead points at the one that stayed, which gets the
facts it lacked and (when it has none open) the merged lead's open opportunity; unmerging gives both back.

The merged lead's own row, facts and transitions are never changed beyond the pointer, so unmerging restores it
exactly. What the lead that stayed received is recorded (table `merges`) and taken back where it is unchanged.
"""

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from services.qualifier.commands.qualification import Qualifier
from services.qualifier.domain.cause import Cause
from services.qualifier.domain.lead import Lead
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows
from services.qualifier.transitions import save_opportunity
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import LeadMerged, LeadUnmerged
from shared.ids import LeadId, as_lead_id

# Columns a merged lead may fill on the lead that stayed (what reps see in lists).
FILLED_COLUMNS = ("name", "email", "phone", "job_title", "company", "country", "source", "campaign")

LeadFor = Callable[[UnitOfWork, LeadId, Cause], Awaitable[Lead]]


class Merges:
    """Applies merges and unmerges to leads and opportunities, then re-qualifies the leads involved."""

    def __init__(self, qualifier: Qualifier, lead_for: LeadFor) -> None:
        self._qualifier = qualifier
        self._lead_for = lead_for  # the lead, created at stage `lead` when the merge arrives first

    async def merged(self, uow: UnitOfWork, event: Event[LeadMerged]) -> None:
        """Point the merged lead (and those it carried) at the survivor; fill the survivor's gaps; move the open
        opportunity when the survivor has none; re-qualify the survivor."""
        payload = event.payload
        session, rows = uow.session, lead_rows(uow)
        cause = self._qualifier.cause("merge", datetime.now(UTC), event.envelope.correlationid)
        into = as_lead_id(payload.into)
        survivor = await self._lead_for(uow, into, cause)
        source = await rows.get(session, event.lead_id)
        for lead_id in [event.lead_id, *(as_lead_id(c) for c in payload.carried)]:
            if (merged := await rows.get(session, lead_id)) is not None:
                merged.merged_into = into
        filled: dict[str, Any] = {"facts": {}, "columns": {}}
        if source is not None:
            filled["facts"] = {k: v for k, v in source.facts.items() if k not in survivor.facts}
            filled["columns"] = {
                c: getattr(source, c)
                for c in FILLED_COLUMNS
                if getattr(source, c) is not None and getattr(survivor, c) is None
            }
            survivor.facts = survivor.facts | filled["facts"]
            for column, value in filled["columns"].items():
                setattr(survivor, column, value)
            survivor.updated_at = cause.at
        moved = await _move_open_opportunity(uow, event.lead_id, into, cause)
        await repository.record_merge(
            session,
            {
                "merge_id": str(payload.merge_id),
                "source": event.lead_id,
                "survivor": into,
                "filled": filled,
                "opportunities": moved,
                "merged_at": payload.merged_at,
            },
        )
        await self._qualifier.requalify(uow, survivor, cause)

    async def unmerged(self, uow: UnitOfWork, event: Event[LeadUnmerged]) -> None:
        """The merged lead is its own again: take back what the merge gave the survivor where it is unchanged,
        move its opportunity back, and re-qualify both."""
        payload = event.payload
        session, rows = uow.session, lead_rows(uow)
        cause = self._qualifier.cause("unmerge", datetime.now(UTC), event.envelope.correlationid)
        survivor_id = as_lead_id(payload.from_lead)
        if (own := await rows.get(session, event.lead_id)) is not None:
            own.merged_into = None
        for lead_id in (as_lead_id(c) for c in payload.carried):
            if (carried := await rows.get(session, lead_id)) is not None:
                carried.merged_into = event.lead_id
        record = await repository.take_merge(session, str(payload.merge_id))
        survivor = await rows.get(session, survivor_id)
        if record is not None and survivor is not None:
            facts = dict(survivor.facts)
            for key, value in record["filled"].get("facts", {}).items():
                if facts.get(key) == value:
                    facts.pop(key)
            survivor.facts = facts
            for column, value in record["filled"].get("columns", {}).items():
                if getattr(survivor, column) == value:
                    setattr(survivor, column, None)
            survivor.updated_at = cause.at
            for opportunity_id in record["opportunities"]:
                await _move_back(uow, UUID(opportunity_id), survivor_id, event.lead_id, cause)
        for lead_id in (survivor_id, event.lead_id):
            lead = await rows.get(session, lead_id)
            if lead is not None:
                await self._qualifier.requalify(uow, lead, cause)


async def _move_open_opportunity(uow: UnitOfWork, source: str, survivor: str, cause: Cause) -> list[str]:
    """The merged lead's open opportunity, moved to the survivor unless it has one open (one open per lead)."""
    session = uow.session
    if await repository.open_opportunities_of(session, survivor):
        return []
    moved = []
    for opportunity_id in await repository.open_opportunities_of(session, source):
        current = await repository.load_opportunity(session, opportunity_id, lock=True)
        if current is None:
            continue
        changed = replace(current, lead_id=UUID(survivor), revision=current.revision + 1, changed_at=cause.at)
        await save_opportunity(uow, changed, cause, previous=current)
        moved.append(str(opportunity_id))
    return moved


async def _move_back(uow: UnitOfWork, opportunity_id: UUID, survivor: str, source: str, cause: Cause) -> None:
    session = uow.session
    current = await repository.load_opportunity(session, opportunity_id, lock=True)
    if current is None or str(current.lead_id) != survivor:
        return
    if current.closed_at is None and await repository.open_opportunities_of(session, source):
        return  # the lead has opened another meanwhile: one open opportunity per lead
    changed = replace(current, lead_id=UUID(source), revision=current.revision + 1, changed_at=cause.at)
    await save_opportunity(uow, changed, cause, previous=current)
