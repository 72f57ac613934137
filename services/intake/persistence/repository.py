"""Reads and writes of intake's tables, inside the caller's unit of work."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.persistence.tables import deliveries, leads, pending_enrichments, webinar_joins
from services.intake.webhooks.contract import PendingEnrichment, WebinarJoin
from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import aware


@dataclass(frozen=True)
class DeliveryRecord:
    """The result a delivery got the first time, to answer its retries with."""

    event_id: str | None
    lead_id: str | None
    request_hash: str | None = None  # the request an idempotency key was first used with (direct capture)


async def record_join(session: AsyncSession, join: WebinarJoin) -> None:
    """Remember when a participant entered a webinar; the first join counts."""
    if await joined_at(session, join.webinar_id, join.participant) is None:
        await session.execute(
            insert(webinar_joins).values(
                webinar_id=join.webinar_id, participant=join.participant.lower(), joined_at=join.joined_at
            )
        )


async def joined_at(session: AsyncSession, webinar_id: str, participant: str) -> datetime | None:
    """When the participant joined the webinar, if we were told."""
    value = await session.scalar(
        select(webinar_joins.c.joined_at).where(
            webinar_joins.c.webinar_id == webinar_id, webinar_joins.c.participant == participant.lower()
        )
    )
    return aware(value) if value is not None else None


async def queue_enrichment(session: AsyncSession, provider: str, waiting: PendingEnrichment) -> int:
    """Queue a lead to fetch from the provider; 0 when it was queued before."""
    exists = await session.scalar(
        select(pending_enrichments.c.external_id).where(
            pending_enrichments.c.provider == provider, pending_enrichments.c.external_id == waiting.external_id
        )
    )
    if exists is not None:
        return 0
    now = datetime.now(UTC)
    await session.execute(
        insert(pending_enrichments).values(
            provider=provider,
            external_id=waiting.external_id,
            context=waiting.context,
            attempts=0,
            next_attempt_at=now,
            received_at=now,
        )
    )
    return 1


async def due_enrichments(session: AsyncSession, provider: str, limit: int) -> list[dict[str, Any]]:
    """Queued leads whose next attempt is due."""
    rows = await session.execute(
        select(pending_enrichments)
        .where(
            pending_enrichments.c.provider == provider,
            pending_enrichments.c.done_at.is_(None),
            pending_enrichments.c.next_attempt_at <= datetime.now(UTC),
        )
        .order_by(pending_enrichments.c.received_at)
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


async def finish_enrichment(session: AsyncSession, provider: str, external_id: str) -> None:
    """The lead was fetched and captured."""
    await session.execute(
        update(pending_enrichments)
        .where(pending_enrichments.c.provider == provider, pending_enrichments.c.external_id == external_id)
        .values(done_at=datetime.now(UTC), last_error=None)
    )


async def retry_enrichment(session: AsyncSession, provider: str, external_id: str, error: str, delay_s: float) -> None:
    """The fetch failed; try again later."""
    await session.execute(
        update(pending_enrichments)
        .where(pending_enrichments.c.provider == provider, pending_enrichments.c.external_id == external_id)
        .values(
            attempts=pending_enrichments.c.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay_s),
        )
    )


@cache
def _find_deliveries(dialect: str) -> Select[Any]:
    columns = (
        deliveries.c.provider,
        deliveries.c.delivery_id,
        deliveries.c.event_id,
        deliveries.c.lead_id,
        deliveries.c.request_hash,
    )
    return select(*columns).where(
        one_of(deliveries.c.delivery_id, "delivery_ids", dialect), one_of(deliveries.c.provider, "providers", dialect)
    )


async def find_deliveries(session: AsyncSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str], DeliveryRecord]:
    """The original outcomes of deliveries accepted before, by (provider, delivery id)."""
    if not keys:
        return {}
    rows = await session.execute(
        _find_deliveries(dialect_of(session)),
        {"delivery_ids": sorted({d for _, d in keys}), "providers": sorted({p for p, _ in keys})},
    )
    # The two lists match a superset of the pairs (another provider's same id); keep the exact pairs.
    wanted = set(keys)
    return {
        (r.provider, r.delivery_id): DeliveryRecord(r.event_id, r.lead_id, r.request_hash)
        for r in rows
        if (r.provider, r.delivery_id) in wanted
    }


async def find_lead(session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
    """A lead's stored profile, unlocked (for reading only)."""
    row = (await session.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None


@cache
def _load_leads(dialect: str) -> Select[Any]:
    return select(leads).where(one_of(leads.c.lead_id, "lead_ids", dialect)).order_by(leads.c.lead_id).with_for_update()


async def load_leads(session: AsyncSession, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Leads' stored profiles, locked until the caller commits (in id order, so two groups cannot deadlock): a
    concurrent submission of the same person waits and then merges into this one's result."""
    if not lead_ids:
        return {}
    rows = (await session.execute(_load_leads(dialect_of(session)), {"lead_ids": list(lead_ids)})).mappings()
    found = {}
    for row in rows:
        profile = dict(row)
        for key in ("first_seen_at", "last_seen_at"):
            if profile[key] is not None:
                profile[key] = aware(profile[key])
        found[profile["lead_id"]] = profile
    return found


# Built once: a statement built per call also pays for its cache key every time (see shared.db.batch_lookup).
_PROFILE_COLUMNS = [c.name for c in leads.columns if c.name != "lead_id"]
_INSERT_LEADS = insert(leads)
_UPDATE_LEADS = (
    update(leads).where(leads.c.lead_id == bindparam("_lead_id")).values({c: bindparam(c) for c in _PROFILE_COLUMNS})
)
_INSERT_DELIVERIES = insert(deliveries)


async def save_leads(session: AsyncSession, new: dict[str, dict[str, Any]], changed: dict[str, dict[str, Any]]) -> None:
    """Insert and update many leads in two statements. New ones go in id order, so two groups in flight that
    both bring the same new people wait for each other in one order, never in a cycle; changed ones were locked
    in id order when they were read (`load_many`)."""
    columns = _PROFILE_COLUMNS
    if new:
        await session.execute(
            _INSERT_LEADS, [{"lead_id": lid} | {c: new[lid].get(c) for c in columns} for lid in sorted(new)]
        )
    if changed:
        await session.execute(
            _UPDATE_LEADS, [{"_lead_id": lid} | {c: p.get(c) for c in columns} for lid, p in changed.items()]
        )


async def record_deliveries(session: AsyncSession, rows: list[tuple[str, str, DeliveryRecord]]) -> None:
    """Remember deliveries in one statement (in key order, as `save_leads` does, for the same reason); a
    concurrent duplicate fails on the primary key."""
    if rows:
        now = datetime.now(UTC)
        await session.execute(
            _INSERT_DELIVERIES,
            [
                {
                    "provider": p,
                    "delivery_id": d,
                    "event_id": r.event_id,
                    "lead_id": r.lead_id,
                    "request_hash": r.request_hash,
                    "received_at": now,
                }
                for p, d, r in sorted(rows, key=lambda row: (row[0], row[1]))
            ],
        )


async def give_up_enrichment(session: AsyncSession, provider: str, external_id: str, error: str) -> None:
    """No more attempts: the lead waits in quarantine with the last error."""
    await session.execute(
        update(pending_enrichments)
        .where(pending_enrichments.c.provider == provider, pending_enrichments.c.external_id == external_id)
        .values(attempts=pending_enrichments.c.attempts + 1, last_error=error, done_at=datetime.now(UTC))
    )


async def requeue_enrichment(session: AsyncSession, provider: str, external_id: str, context: dict[str, Any]) -> None:
    """Fetch a lead again from the start (a quarantined fetch replayed after its cause was fixed)."""
    now = datetime.now(UTC)
    found = await session.execute(
        update(pending_enrichments)
        .where(pending_enrichments.c.provider == provider, pending_enrichments.c.external_id == external_id)
        .values(attempts=0, last_error=None, done_at=None, next_attempt_at=now)
    )
    if not found.rowcount:  # type: ignore[attr-defined]
        await queue_enrichment(session, provider, PendingEnrichment(external_id, context))
