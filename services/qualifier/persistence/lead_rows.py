"""The lead rows and transitions one transaction touches: read in one query, written in a few at commit.

A consumed batch names hundreds of leads; reading and writing them one statement at a time made the qualifier
the slowest consumer of the pipeline. Handlers get the cached row (the same dict all through the transaction,
so the next event of a lead sees what the last one changed); writes wait for `save` at the end of the batch or
command (or sooner, when something is about to read the leads table itself: routing counts owners' leads).

Every read here first locks the leads it names until the transaction ends (shared.db.locks.lock_rows: in key
order, so two batches naming the same leads wait for each other instead of deadlocking): facts and stage are
written back whole, so a consumer batch, a rep's evidence, an override, the stall sweep or an owner's removal
that read a lead unlocked would overwrite each other's changes. Every writer of the leads table reads through
here.
"""

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.qualifier.persistence.tables import leads, transitions
from shared.db.batch_lookup import dialect_of, one_of
from shared.db.locks import lock_rows
from shared.db.unit_of_work import UnitOfWork

_COLUMNS = frozenset(leads.c.keys())
_CHUNK = 500


@cache
def _leads_of(dialect: str) -> Select[Any]:
    # Built once per dialect: every consumed batch runs it (see shared.db.batch_lookup).
    return select(leads).where(one_of(leads.c.lead_id, "lead_ids", dialect))


class LeadRows:
    """Cached lead rows with their pending inserts and updates, and pending transitions."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any] | None] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._changed: dict[str, dict[str, Any]] = {}
        self._transitions: list[dict[str, Any]] = []
        self._erased: set[str] = set()

    def forget(self, lead_id: str) -> None:
        """An erased lead: what the batch would write of it is dropped, and nothing more is taken for it."""
        self._erased.add(lead_id)
        self._rows[lead_id] = None
        self._new.pop(lead_id, None)
        self._changed.pop(lead_id, None)
        self._transitions = [t for t in self._transitions if t["lead_id"] != lead_id]

    def erased(self, lead_id: str) -> bool:
        """Whether the lead was erased in this batch."""
        return lead_id in self._erased

    async def preload(self, session: AsyncSession, lead_ids: Iterable[str]) -> None:
        """Read every named lead not cached yet, in one query per chunk (absent ones are remembered as absent)."""
        wanted = sorted({i for i in lead_ids if i not in self._rows})
        await lock_rows(session, "qualifier.lead", wanted, None)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found = await session.execute(_leads_of(dialect_of(session)), {"lead_ids": chunk})
            rows = {row["lead_id"]: dict(row) for row in found.mappings()}
            for lead_id in chunk:
                self._rows[lead_id] = rows.get(lead_id)

    async def get(self, session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
        """The lead's row as this transaction sees it, or None."""
        if lead_id not in self._rows:
            await self.preload(session, [lead_id])
        return self._rows[lead_id]

    def insert(self, row: dict[str, Any]) -> None:
        """A new lead; its row is written at flush with whatever it holds by then."""
        self._rows[row["lead_id"]] = row
        self._new[row["lead_id"]] = row

    def update(self, lead_id: str, values: dict[str, Any]) -> None:
        """Change columns of a lead."""
        cached = self._rows.get(lead_id)
        if cached is not None:
            cached.update(values)
        if lead_id not in self._new:
            self._changed.setdefault(lead_id, {}).update(values)

    def transition(self, row: dict[str, Any]) -> None:
        """Record one stage transition."""
        self._transitions.append(row)

    def unsaved(self) -> bool:
        """Whether changes wait for `save`."""
        return bool(self._new or self._changed or self._transitions)

    async def save(self, uow: UnitOfWork) -> None:
        """Write what is pending: new leads, then changes grouped by the columns they touch, then transitions."""
        session = uow.session
        for group in _by_columns(_columns(r) for r in self._new.values()).values():
            await session.execute(insert(leads), group)
        changes = ({**_columns(values), "b_lead_id": lead_id} for lead_id, values in self._changed.items())
        for columns, rows in _by_columns(changes).items():
            statement = (
                update(leads)
                .where(leads.c.lead_id == bindparam("b_lead_id"))
                .values({name: bindparam(name) for name in sorted(columns - {"b_lead_id"})})
            )
            await session.execute(statement, rows)
        if self._transitions:
            await session.execute(insert(transitions), self._transitions)
        self._new, self._changed, self._transitions = {}, {}, []


def _columns(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in _COLUMNS}


def _by_columns(rows: Iterable[dict[str, Any]]) -> dict[frozenset[str], list[dict[str, Any]]]:
    """Rows grouped by the columns they carry: one executemany statement per group."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    return groups


def lead_rows(uow: UnitOfWork) -> LeadRows:
    """This transaction's lead rows."""
    return uow.state("qualifier.lead_rows", LeadRows)


async def save_and_commit(uow: UnitOfWork) -> None:
    """The end of every qualifier command: write the lead rows it changed, then commit."""
    await lead_rows(uow).save(uow)
    await uow.commit()
