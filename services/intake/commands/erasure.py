"""Erasing a person: every lead of theirs and every raw trace intake holds, then `person.erased` for the other
services (docs/architecture.md, "Erasure"). Intake is where an address meets its leads, so the request is made
here and nowhere else."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import SERVICE
from services.intake.commands.merging import own_keys
from services.intake.domain.identity import configured, derived_id, email_key
from services.intake.persistence import identity_store
from services.intake.persistence.tables import (
    deliveries,
    identity_links,
    imports,
    leads,
    merges,
    pending_enrichments,
    quarantine,
    webinar_joins,
)
from shared.db.erasure import forget
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import new_event
from shared.events.models import PersonErased
from shared.ids import normalise_email

log = structlog.get_logger(__name__)
SOURCE = f"/leadflow/{SERVICE}"
_SCAN = 500  # raw rows read per query while looking for the address in them


class NobodyToErase(LookupError):
    """No lead and no raw delivery of this address is held."""


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed: the person's leads (each announced by a person.erased event) and raw rows."""

    lead_ids: tuple[UUID, ...]
    raw_rows: int
    erased_at: datetime


async def erase(uow_factory: UnitOfWorkFactory, email: str, *, by: str) -> Erasure:
    """Erase the person with this address in a transaction of its own (the API and `leadflow erase`)."""
    async with uow_factory() as uow:
        done = await erase_person(uow, email, by=by)
        await uow.commit()
    return done


async def erase_person(uow: UnitOfWork, email: str, *, by: str) -> Erasure:
    """Delete the person with this address from intake and announce it, in the caller's unit of work."""
    address = normalise_email(email)
    session = uow.session
    lead_ids = await _leads_of(session, address)
    raw = await _raw_traces(session, address, lead_ids)
    if not lead_ids and not raw:
        raise NobodyToErase(f"intake holds no lead and no delivery for {email!r}")
    now = datetime.now(UTC)
    ids = sorted(lead_ids)
    keys = await _keys_of(session, ids, address)
    await session.execute(
        delete(identity_links).where(or_(identity_links.c.lead_id.in_(ids), identity_links.c.key.in_(keys)))
    )
    await session.execute(delete(merges).where(or_(merges.c.source.in_(ids), merges.c.survivor.in_(ids))))
    await session.execute(delete(deliveries).where(deliveries.c.lead_id.in_(ids)))
    await session.execute(delete(webinar_joins).where(webinar_joins.c.participant == address))
    await session.execute(delete(leads).where(leads.c.lead_id.in_(ids)))
    raw_rows = await _delete_raw(session, raw) + len(raw.imports)
    await forget(uow, ids, now)
    for lead_id in ids:
        uow.emit(new_event(PersonErased(lead_id=UUID(lead_id), erased_at=now, erased_by=by), source=SOURCE))
    log.info("person.erased", lead_ids=ids, raw_rows=raw_rows, erased_by=by)  # ids only: the address is gone
    return Erasure(tuple(UUID(i) for i in ids), raw_rows, now)


async def _leads_of(session: AsyncSession, address: str) -> set[str]:
    """The address's lead (as its identity key resolves, whatever spelling was stored) and the leads merged with
    it: one person."""
    key = email_key(address, configured())
    found = {str((await identity_store.links(session, [key])).get(key) or derived_id(key))}
    found |= set((await session.execute(select(leads.c.lead_id).where(leads.c.email == address))).scalars())
    rows = (await session.execute(select(leads.c.lead_id, leads.c.merged_into).where(leads.c.lead_id.in_(found)))).all()
    if not rows:
        return set()
    roots = {row.merged_into or row.lead_id for row in rows}
    members = (await session.execute(select(leads.c.lead_id).where(leads.c.merged_into.in_(roots)))).scalars()
    return {row.lead_id for row in rows} | roots | set(members)


async def _keys_of(session: AsyncSession, lead_ids: list[str], address: str) -> list[str]:
    """Every identity key of these leads (their addresses' and their sources' ids) and of the address asked."""
    rows = await session.execute(
        select(leads.c.email, leads.c.external_provider, leads.c.external_id).where(leads.c.lead_id.in_(lead_ids))
    )
    keys = {email_key(address, configured())}
    for row in rows.mappings():
        keys.update(own_keys(dict(row)))
    return sorted(keys)


@dataclass
class _Raw:
    quarantine: list[int]
    enrichments: list[tuple[str, str]]
    imports: dict[str, list[object]]  # import id -> its row errors without the ones quoting the address

    def __bool__(self) -> bool:
        return bool(self.quarantine or self.enrichments or self.imports)


async def _raw_traces(session: AsyncSession, address: str, lead_ids: set[str]) -> _Raw:
    """Raw rows that hold the address: quarantined bodies, queued fetches, import row errors. They are bounded by
    retention, so reading them through is affordable for a request that comes rarely."""
    needle = address.encode()
    found = _Raw([], [], {})
    last = 0
    while True:
        rows = (
            await session.execute(
                select(quarantine.c.id, quarantine.c.body, quarantine.c.lead_id)
                .where(quarantine.c.id > last)
                .order_by(quarantine.c.id)
                .limit(_SCAN)
            )
        ).all()
        for row in rows:
            if row.lead_id in lead_ids or needle in bytes(row.body).lower():
                found.quarantine.append(row.id)
        if len(rows) < _SCAN:
            break
        last = rows[-1].id
    waiting = await session.execute(
        select(pending_enrichments.c.provider, pending_enrichments.c.external_id, pending_enrichments.c.context)
    )
    for provider, external_id, context in waiting:
        if address in json.dumps(context).lower():
            found.enrichments.append((provider, external_id))
    for import_id, errors in await session.execute(select(imports.c.import_id, imports.c.errors)):
        kept = [e for e in errors or [] if address not in json.dumps(e).lower()]
        if len(kept) != len(errors or []):
            found.imports[import_id] = kept
    return found


async def _delete_raw(session: AsyncSession, raw: _Raw) -> int:
    if raw.quarantine:
        await session.execute(delete(quarantine).where(quarantine.c.id.in_(raw.quarantine)))
    for provider, external_id in raw.enrichments:
        await session.execute(
            delete(pending_enrichments).where(
                pending_enrichments.c.provider == provider, pending_enrichments.c.external_id == external_id
            )
        )
    for import_id, kept in raw.imports.items():
        await session.execute(update(imports).where(imports.c.import_id == import_id).values(errors=kept))
    return len(raw.quarantine) + len(raw.enrichments)
