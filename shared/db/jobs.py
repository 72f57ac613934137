"""Leases on periodic jobs: one replica runs each job once per interval, the others skip it.

A run holds the job's advisory lock (PostgreSQL) for as long as it runs, so two replicas never run one job at
once, and a replica that dies mid-run lets go of it with its connection (shared.db.locks). The holder then claims
the interval with a conditional UPDATE of the job's row, so a replica that wakes just after another finished does
not run the job a second time in the same interval.
"""

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.database import Database
from shared.db.locks import exclusive_on
from shared.db.metadata import JOBS

# Replicas wake at slightly different times, and one that ran a job sleeps a full interval after it finished: a
# claim is due a little before the interval has passed, so the replica that ran last keeps its rhythm.
_DUE_FRACTION = 0.9

RUNNER = f"{socket.gethostname()}:{os.getpid()}"[:200]

_CLAIM = (
    update(JOBS)
    .where(JOBS.c.name == bindparam("b_name"), JOBS.c.started_at <= bindparam("due"))
    .values(started_at=bindparam("now"), finished_at=None, runner=bindparam("runner"), runs=JOBS.c.runs + 1)
)
_FINISH = update(JOBS).where(JOBS.c.name == bindparam("b_name")).values(finished_at=bindparam("now"))


@contextlib.asynccontextmanager
async def leased(database: Database, name: str, interval_s: float) -> AsyncIterator[bool]:
    """True when this replica is to run job `name` now; the lease lasts for the block."""
    async with exclusive_on(database, f"job:{name}") as connection:
        if connection is None:
            yield False  # another replica is running it
            return
        claimed = await _claim(connection, name, interval_s, datetime.now(UTC))
        try:
            yield claimed
        finally:
            if claimed:
                await connection.execute(_FINISH, {"b_name": name, "now": datetime.now(UTC)})


async def _claim(connection: AsyncConnection, name: str, interval_s: float, now: datetime) -> bool:
    due = now - timedelta(seconds=interval_s * _DUE_FRACTION)
    result = await connection.execute(_CLAIM, {"b_name": name, "now": now, "due": due, "runner": RUNNER})
    if result.rowcount:
        return True
    try:
        await connection.execute(insert(JOBS).values(name=name, started_at=now, runner=RUNNER, runs=1))
    except IntegrityError:
        return False  # the job ran within this interval already
    return True
