"""Retention: rows that served their purpose (published outbox rows, processed inbox rows, old deliveries) are
deleted after a configurable age, a batch per transaction so no long lock holds up the write path."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Column, ColumnElement, Table, delete, select, tuple_

from shared.db.database import Database
from shared.db.metadata import INBOX, OUTBOX

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Retention:
    """Rows of `table` whose `column` is older than `days` go (rows where it is NULL stay)."""

    table: Table
    column: Column[datetime]
    days: float


def messaging_retention(outbox_days: float, inbox_days: float) -> list[Retention]:
    """What every service keeps of its outbox (published rows only) and inbox."""
    return [Retention(OUTBOX, OUTBOX.c.published_at, outbox_days), Retention(INBOX, INBOX.c.processed_at, inbox_days)]


async def prune(
    database: Database, rules: Sequence[Retention], *, batch: int = 5000, now: datetime | None = None
) -> dict[str, int]:
    """Delete what each rule lets go of; returns how many rows went per table."""
    now = now or datetime.now(UTC)
    removed: dict[str, int] = {}
    for rule in rules:
        cutoff = now - timedelta(days=rule.days)
        keys = list(rule.table.primary_key.columns)
        key: ColumnElement[Any] = keys[0] if len(keys) == 1 else tuple_(*keys)
        oldest = select(*keys).where(rule.column < cutoff).order_by(rule.column).limit(batch)
        total = 0
        while True:
            async with database.session() as session, session.begin():
                result = await session.execute(delete(rule.table).where(key.in_(oldest)))
            count = int(result.rowcount or 0)  # type: ignore[attr-defined]
            total += count
            if count < batch:
                break
        removed[rule.table.name] = removed.get(rule.table.name, 0) + total  # a table may have several rules
    if any(removed.values()):
        log.info("retention.pruned", **removed)
    return removed
