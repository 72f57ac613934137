"""Keyed lead ids (docs/architecture.md, "Identity"). With LEADFLOW_LEAD_ID_KEY a lead's id is an HMAC of its
identity key under the installation's secret instead of the UUIDv5 of a public namespace, which let anyone with an
id (in a log line, an event) confirm whether a known address was among the leads.

The leads made before keep their ids: adopting a secret links each of their identity keys to the id it has, so
an address already known still reaches its lead and nobody is split in two. That runs once per secret, in one
replica, at start; the others wait for it. Until it is done a process derives ids as before; a second, short
pass then links the leads made meanwhile.
"""

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy import insert, select

from services.intake.commands.merging import own_keys
from services.intake.domain.identity import use_keyed_ids
from services.intake.persistence import identity_store
from services.intake.persistence.tables import identity_keys, leads
from shared.db.database import Database, aware
from shared.db.locks import exclusive
from shared.ids import keyed_lead_id

log = structlog.get_logger(__name__)
_BATCH = 1000
_OVERLAP = timedelta(minutes=10)  # clocks of replicas differ; a longer second pass costs little


def fingerprint(secret: bytes) -> str:
    """Which secret, without the secret."""
    return hashlib.sha256(b"leadflow lead id key:" + secret).hexdigest()


async def adopt(database: Database, secret: bytes) -> int:
    """Link the leads made under another derivation to their ids, then derive ids under `secret` in this process.
    Returns how many links were written."""
    started = datetime.now(UTC)
    mark = fingerprint(secret)
    written = 0
    while True:
        async with exclusive(database, "identity.adopt") as held:
            if held:
                async with database.session() as session:
                    adopted = await session.scalar(
                        select(identity_keys.c.adopted_at).where(identity_keys.c.fingerprint == mark)
                    )
                # Adopted before: only the leads a process still deriving the old way may have made since.
                written = await _link(database, secret, aware(adopted) - _OVERLAP if adopted else None)
                if adopted is None:
                    async with database.session() as session, session.begin():
                        await session.execute(insert(identity_keys).values(fingerprint=mark, adopted_at=started))
                break
        await asyncio.sleep(1.0)  # another replica is adopting it
    use_keyed_ids(secret)
    written += await _link(database, secret, started - _OVERLAP)
    log.info("identity.keyed_ids", links_written=written, fingerprint=mark[:12])
    return written


async def _link(database: Database, secret: bytes, since: datetime | None) -> int:
    """Link every identity key of the leads first seen since `since` (all when None) whose id it would not derive
    under `secret`, unless the key is linked already (a merge, an earlier pass)."""
    written, last = 0, ""
    columns = (leads.c.lead_id, leads.c.email, leads.c.external_provider, leads.c.external_id)
    while True:
        query = select(*columns).where(leads.c.lead_id > last).order_by(leads.c.lead_id).limit(_BATCH)
        if since is not None:
            query = query.where(leads.c.first_seen_at >= since)
        async with database.session() as session, session.begin():
            rows = [dict(row) for row in (await session.execute(query)).mappings()]
            wanted = {
                key: UUID(row["lead_id"])
                for row in rows
                for key in own_keys(row)
                if keyed_lead_id(secret, key) != UUID(row["lead_id"])
            }
            linked = await identity_store.links(session, list(wanted))
            missing = {key: lead for key, lead in wanted.items() if key not in linked}
            if missing:
                await identity_store.link(session, missing)
        written += len(missing)
        if len(rows) < _BATCH:
            return written
        last = rows[-1]["lead_id"]
