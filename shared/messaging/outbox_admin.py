"""What an operator sees and does about outbox rows the broker refused (`leadflow outbox list | retry`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from shared.db.database import Database, aware
from shared.db.metadata import OUTBOX


@dataclass(frozen=True)
class HeldRow:
    """An unpublished row that holds back the later rows of its key."""

    id: int
    event_id: str
    topic: str
    key: str
    event_type: str
    attempts: int
    last_error: str | None
    created_at: datetime
    state: str  # parked (refused for good) or retrying
    size: int


async def held_rows(database: Database, *, limit: int = 100) -> list[HeldRow]:
    """Parked rows and rows waiting for a retry, oldest first."""
    query = (
        select(
            OUTBOX.c.id,
            OUTBOX.c.event_id,
            OUTBOX.c.topic,
            OUTBOX.c.key,
            OUTBOX.c.event_type,
            OUTBOX.c.attempts,
            OUTBOX.c.last_error,
            OUTBOX.c.created_at,
            OUTBOX.c.parked_at,
            OUTBOX.c.payload,
        )
        .where(OUTBOX.c.published_at.is_(None), or_(OUTBOX.c.parked_at.is_not(None), OUTBOX.c.retry_at.is_not(None)))
        .order_by(OUTBOX.c.id)
        .limit(limit)
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    return [
        HeldRow(
            id=r.id,
            event_id=r.event_id,
            topic=r.topic,
            key=r.key,
            event_type=r.event_type,
            attempts=r.attempts,
            last_error=r.last_error,
            created_at=aware(r.created_at),
            state="parked" if r.parked_at is not None else "retrying",
            size=len(r.payload),
        )
        for r in rows
    ]


async def retry_parked(database: Database, ids: Sequence[int] | None = None) -> int:
    """Release parked rows (these, or all) for the relay's next batch; returns how many."""
    statement = (
        update(OUTBOX)
        .where(OUTBOX.c.published_at.is_(None), OUTBOX.c.parked_at.is_not(None))
        .values(parked_at=None, retry_at=None)
    )
    if ids is not None:
        statement = statement.where(OUTBOX.c.id.in_(list(ids)))
    async with database.session() as session, session.begin():
        result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
