"""Reads and writes of the notifier's tables."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.persistence.tables import attempts, deliveries, people, subscriptions
from shared.db.batch_lookup import dialect_of
from shared.db.upsert import upsert

PENDING, DELIVERED = "pending", "delivered"


async def remember_person(session: AsyncSession, lead_id: str, who: dict[str, str | None]) -> None:
    """Keep who a lead is; what a capture left out keeps its earlier value."""
    known = {k: v for k, v in who.items() if v}
    if known:
        await upsert(session, people, {"lead_id": lead_id}, known)


async def who_is(session: AsyncSession, lead_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Who each of the leads is, as far as captures said."""
    if not lead_ids:
        return {}
    rows = await session.execute(select(people).where(people.c.lead_id.in_(sorted(set(lead_ids)))))
    return {r["lead_id"]: {k: v for k, v in r.items() if k != "lead_id"} for r in rows.mappings()}


async def erase(session: AsyncSession, lead_ids: Sequence[str]) -> None:
    """Forget the leads: who they were, and every delivery about them, queued or sent, with its attempts."""
    ids = list(lead_ids)
    about = select(deliveries.c.delivery_id).where(deliveries.c.lead_id.in_(ids))
    await session.execute(delete(attempts).where(attempts.c.delivery_id.in_(about)))
    await session.execute(delete(deliveries).where(deliveries.c.lead_id.in_(ids)))
    await session.execute(delete(people).where(people.c.lead_id.in_(ids)))


async def all_subscriptions(session: AsyncSession) -> list[dict[str, Any]]:
    """Every subscription, disabled ones too: their events queue until they are enabled again."""
    rows = await session.execute(select(subscriptions).order_by(subscriptions.c.created_at))
    return [dict(r) for r in rows.mappings()]


async def subscription(session: AsyncSession, subscription_id: str) -> dict[str, Any] | None:
    """One subscription, or None."""
    query = select(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def queue(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Queue deliveries; one already queued for the same subscription and event is left as it is."""
    if not rows:
        return
    build = postgresql_insert if dialect_of(session) == "postgresql" else sqlite_insert
    statement = build(deliveries).on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
    await session.execute(statement, rows)


async def due_endpoints(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Enabled subscriptions with deliveries pending whose next attempt is due."""
    pending = select(deliveries.c.subscription_id).where(deliveries.c.status == PENDING).distinct()
    query = (
        select(subscriptions.c.subscription_id)
        .where(
            subscriptions.c.disabled_at.is_(None),
            (subscriptions.c.next_attempt_at.is_(None)) | (subscriptions.c.next_attempt_at <= now),
            subscriptions.c.subscription_id.in_(pending),
        )
        .order_by(subscriptions.c.next_attempt_at.nulls_first(), subscriptions.c.subscription_id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def next_pending(session: AsyncSession, subscription_id: str, limit: int) -> list[dict[str, Any]]:
    """The oldest pending deliveries of one endpoint, in the order their events were queued."""
    query = (
        select(deliveries)
        .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == PENDING)
        .order_by(deliveries.c.delivery_id)
        .limit(limit)
    )
    return [dict(r) for r in (await session.execute(query)).mappings()]


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    at: datetime,
    status: int | None,
    error: str | None,
    latency_ms: float,
    delivered: bool,
) -> None:
    """One attempt, in the log and on the delivery."""
    await session.execute(
        insert(attempts).values(
            delivery_id=delivery_id, attempted_at=at, status=status, error=error, latency_ms=latency_ms
        )
    )
    values: dict[str, Any] = {
        "attempts": deliveries.c.attempts + 1,
        "last_attempt_at": at,
        "last_status": status,
        "last_error": error,
        "latency_ms": latency_ms,
    }
    if delivered:
        values |= {"status": DELIVERED, "delivered_at": at}
    await session.execute(update(deliveries).where(deliveries.c.delivery_id == delivery_id).values(values))


async def endpoint_state(session: AsyncSession, subscription_id: str, **values: Any) -> None:
    """Change a subscription's queue state (failures, next attempt, disabled)."""
    query = update(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
    await session.execute(query.values(values))


async def delivery_log(
    session: AsyncSession, subscription_id: str, *, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first."""
    query = (
        select(deliveries)
        .where(deliveries.c.subscription_id == subscription_id)
        .order_by(deliveries.c.delivery_id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(deliveries.c.status == status)
    return [dict(r) for r in (await session.execute(query)).mappings()]


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every attempt of the deliveries, oldest first."""
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        query = select(attempts).where(attempts.c.delivery_id.in_(list(delivery_ids))).order_by(attempts.c.attempt_id)
        for row in (await session.execute(query)).mappings():
            found[row["delivery_id"]].append(dict(row))
    return found


async def requeue(
    session: AsyncSession,
    subscription_id: str,
    *,
    delivery_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Send deliveries again: one, or those queued in [start, end). Their attempts stay in the log."""
    query = update(deliveries).where(deliveries.c.subscription_id == subscription_id)
    if delivery_id is not None:
        query = query.where(deliveries.c.delivery_id == delivery_id)
    if start is not None:
        query = query.where(deliveries.c.created_at >= start)
    if end is not None:
        query = query.where(deliveries.c.created_at < end)
    result = await session.execute(query.values(status=PENDING, delivered_at=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def queue_depths(session: AsyncSession) -> dict[str, int]:
    """Pending deliveries by subscription."""
    query = (
        select(deliveries.c.subscription_id, func.count())
        .where(deliveries.c.status == PENDING)
        .group_by(deliveries.c.subscription_id)
    )
    return {sid: int(n) for sid, n in (await session.execute(query)).all()}
