"""Two leads that are one person become one (`lead.merged`), and a wrong merge is undone (`lead.unmerged`).

Nothing of the merged lead is deleted: its identity keys point at the survivor, so whatever later arrives about
the person lands there, and every service only points the merged lead at the survivor. Unmerging removes the
pointers again. See docs/architecture.md, "Identity".
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from services.intake import SERVICE
from services.intake.domain.identity import configured, email_key, external_key
from services.intake.persistence import identity_store, repository
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import new_event
from shared.events.models import LeadMerged, LeadUnmerged

SOURCE = f"/leadflow/{SERVICE}"


class MergeError(ValueError):
    """A merge or unmerge that cannot be done; `status` is its HTTP answer (404 unknown lead, 409 conflict)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MergeOutcome:
    """What a merge or unmerge did."""

    merge_id: UUID
    lead_id: UUID
    into: UUID
    carried: tuple[UUID, ...]
    event_id: str


def own_keys(lead: dict[str, Any]) -> list[str]:
    """The identity keys a captured lead derives from (its address, its source's id)."""
    keys = []
    if lead.get("email"):
        keys.append(email_key(lead["email"], configured()))
    if lead.get("external_id") and lead.get("external_provider"):
        keys.append(external_key(lead["external_provider"], lead["external_id"]))
    return keys


async def merge(uow: UnitOfWork, source: UUID, survivor: UUID, *, reason: str, by: str) -> MergeOutcome:
    """Merge `source` into `survivor` in the caller's unit of work (which commits it)."""
    if source == survivor:
        raise MergeError(409, "a lead cannot be merged into itself")
    session = uow.session
    rows = await repository.load_leads(session, sorted([str(source), str(survivor)]))
    for lead in (source, survivor):
        if str(lead) not in rows:
            raise MergeError(404, f"lead {lead} has not been captured by intake")
    if rows[str(source)]["merged_into"]:
        raise MergeError(
            409, f"lead {source} is already merged into {rows[str(source)]['merged_into']}; unmerge it first"
        )
    if rows[str(survivor)]["merged_into"]:
        raise MergeError(
            409, f"lead {survivor} is merged into {rows[str(survivor)]['merged_into']}; merge into that lead instead"
        )
    merge_id, now = uuid4(), datetime.now(UTC)
    earlier = await identity_store.pointing_at(session, str(source))
    links: dict[str, str | None] = {key: None for key in own_keys(rows[str(source)])} | dict(earlier)
    await identity_store.link(session, {key: survivor for key in links}, str(merge_id))
    # Leads merged into `source` before follow it, so that a merged lead always points at one that is not.
    carried = await identity_store.merged_into(session, str(source))
    await identity_store.set_merged_into(session, [str(source), *carried], str(survivor))
    await identity_store.record_merge(
        session,
        {
            "merge_id": str(merge_id),
            "source": str(source),
            "survivor": str(survivor),
            "reason": reason,
            "merged_by": by,
            "relinked": {"links": links, "carried": carried},
            "merged_at": now,
        },
    )
    followers = [UUID(c) for c in carried]
    merged = LeadMerged(
        lead_id=source,
        into=survivor,
        merge_id=merge_id,
        carried=followers,
        reason=reason,
        merged_by=by,
        merged_at=now,
    )
    return _announced(uow, merged, survivor, followers)


async def unmerge(uow: UnitOfWork, source: UUID, *, by: str) -> MergeOutcome:
    """Undo the merge that holds `source`, in the caller's unit of work."""
    session = uow.session
    active = await identity_store.active_merge(session, str(source))
    if active is None:
        raise MergeError(409, f"lead {source} is not merged into another lead")
    links: dict[str, str | None] = active["relinked"]["links"]
    await identity_store.unlink(session, [key for key, earlier in links.items() if earlier is None])
    await identity_store.link(session, {key: UUID(earlier) for key, earlier in links.items() if earlier is not None})
    carried: list[str] = active["relinked"]["carried"]
    await identity_store.set_merged_into(session, [str(source)], None)
    await identity_store.set_merged_into(session, carried, str(source))
    now = datetime.now(UTC)
    await identity_store.close_merge(session, active["merge_id"], by, now)
    survivor, followers = UUID(active["survivor"]), [UUID(c) for c in carried]
    unmerged = LeadUnmerged(
        lead_id=source,
        from_lead=survivor,
        merge_id=UUID(active["merge_id"]),
        carried=followers,
        unmerged_by=by,
        unmerged_at=now,
    )
    return _announced(uow, unmerged, survivor, followers)


def _announced(
    uow: UnitOfWork, payload: LeadMerged | LeadUnmerged, survivor: UUID, followers: list[UUID]
) -> MergeOutcome:
    """Emit the merge's event in the unit of work and say what was done."""
    event = new_event(payload, source=SOURCE)
    uow.emit(event)
    return MergeOutcome(payload.merge_id, payload.lead_id, survivor, tuple(followers), event.id)
