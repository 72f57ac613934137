"""What every service does when a person is erased (docs/architecture.md, "Erasure"): forget the events it
published about the lead, so `leadflow replay` cannot send them again, and remember that the lead was erased,
so that events from before the erasure still on their way (another topic, a replay, a redelivery) are ignored
instead of bringing the person back. A new capture after the erasure is the person coming back, and is kept."""

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import aware
from shared.db.metadata import ERASED_LEADS, OUTBOX
from shared.db.unit_of_work import UnitOfWork
from shared.db.upsert import upsert_many
from shared.events.envelope import Event
from shared.events.models import LeadCaptured, PersonErased

_ERASURE_TYPE = PersonErased.cloudevents_type()


async def forget(uow: UnitOfWork, lead_ids: Collection[str], erased_at: datetime) -> None:
    """Delete this service's outbox rows about the leads (sent, unsent, or queued in this transaction; but the
    erasure itself) and record the erasure."""
    if not lead_ids:
        return
    uow.discard(lead_ids, keep=lambda event: isinstance(event.payload, PersonErased))
    session = uow.session
    await session.execute(delete(OUTBOX).where(OUTBOX.c.key.in_(list(lead_ids)), OUTBOX.c.event_type != _ERASURE_TYPE))
    await upsert_many(
        session, ERASED_LEADS, ["lead_id"], [{"lead_id": lead, "erased_at": erased_at} for lead in lead_ids]
    )


async def still_erased(session: AsyncSession, events: list[Event]) -> set[str]:
    """The ids of the events to ignore because their lead was erased after they were made. A capture made after
    the erasure is the person coming back: the record is lifted and it, and what follows, is applied."""
    leads = {event.lead_id for event in events}
    if not leads:
        return set()
    rows = await session.execute(_erased_statement(dialect_of(session)), {"lead_ids": sorted(leads)})
    erased = {lead: aware(at) for lead, at in rows}
    if not erased:
        return set()
    ignored: set[str] = set()
    back: set[str] = set()
    for event in events:
        at = erased.get(event.lead_id)
        if at is None or isinstance(event.payload, PersonErased):
            continue
        if event.lead_id in back:
            continue
        if isinstance(event.payload, LeadCaptured) and aware(event.envelope.time) > at:
            back.add(event.lead_id)
            continue
        ignored.add(event.id)
    if back:
        await session.execute(delete(ERASED_LEADS).where(ERASED_LEADS.c.lead_id.in_(list(back))))
    return ignored


@cache
def _erased_statement(dialect: str) -> Select[Any]:
    # Built once: every consumed batch asks (shared.db.batch_lookup says what building it per call cost).
    return select(ERASED_LEADS.c.lead_id, ERASED_LEADS.c.erased_at).where(
        one_of(ERASED_LEADS.c.lead_id, "lead_ids", dialect)
    )
