"""The lead rows and transitions one transaction touches: read in one query, written in a few at commit.

A consumed batch names hundreds of leads; reading and writing them one statement at a time would make the
qualifier the slowest consumer. Handlers get the cached `Lead` (the same object all through the transaction, so
the next event of a lead sees what the last one changed) and change it in place; writes wait for `save` at the
end of the batch or command (or sooner, when something is about to read the leads table itself: routing counts
owners' leads).

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

from services.qualifier.domain.lead import COLUMNS, Lead
from services.qualifier.persistence.tables import leads, transitions
from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import aware
from shared.db.locks import lock_rows
from shared.db.unit_of_work import UnitOfWork
from shared.ids import LeadId

_CHUNK = 500


@cache
def _leads_of(dialect: str) -> Select[Any]:
    # Built once per dialect: every consumed batch runs it (see shared.db.batch_lookup).
    return select(leads).where(one_of(leads.c.lead_id, "lead_ids", dialect))


class LeadRows:
    """The leads one transaction reads, as `Lead` objects its commands and handlers change in place, with the
    transitions they record. `save` writes the new leads, and of the others the columns that differ from what
    was read (or last saved)."""

    def __init__(self) -> None:
        self._leads: dict[LeadId, Lead | None] = {}
        self._stored: dict[LeadId, dict[str, Any]] = {}  # each read lead's columns as the table holds them
        self._new: set[LeadId] = set()
        self._transitions: list[dict[str, Any]] = []
        self._erased: set[LeadId] = set()

    def forget(self, lead_id: LeadId) -> None:
        """An erased lead: what the batch would write of it is dropped, and nothing more is taken for it."""
        self._erased.add(lead_id)
        self._leads[lead_id] = None
        self._stored.pop(lead_id, None)
        self._new.discard(lead_id)
        self._transitions = [t for t in self._transitions if t["lead_id"] != lead_id]

    def erased(self, lead_id: LeadId) -> bool:
        """Whether the lead was erased in this batch."""
        return lead_id in self._erased

    async def preload(self, session: AsyncSession, lead_ids: Iterable[LeadId]) -> None:
        """Read every named lead not cached yet, in one query per chunk (absent ones are remembered as absent)."""
        wanted = sorted({i for i in lead_ids if i not in self._leads})
        await lock_rows(session, "qualifier.lead", wanted, None)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found = await session.execute(_leads_of(dialect_of(session)), {"lead_ids": chunk})
            rows = {LeadId(row["lead_id"]): row for row in found.mappings()}
            for lead_id in chunk:
                row = rows.get(lead_id)
                lead = _lead(row) if row is not None else None
                self._leads[lead_id] = lead
                if lead is not None:
                    # As read, times made aware: a naive copy would differ from every lead and rewrite it.
                    self._stored[lead_id] = _snapshot(lead)

    async def get(self, session: AsyncSession, lead_id: LeadId) -> Lead | None:
        """The lead as this transaction sees it, or None."""
        if lead_id not in self._leads:
            await self.preload(session, [lead_id])
        return self._leads[lead_id]

    def insert(self, lead: Lead) -> None:
        """A new lead; its row is written at `save` with whatever it holds by then."""
        self._leads[lead.lead_id] = lead
        self._new.add(lead.lead_id)

    def transition(self, row: dict[str, Any]) -> None:
        """Record one stage transition."""
        self._transitions.append(row)

    def unsaved(self) -> bool:
        """Whether changes wait for `save`."""
        return bool(self._new or self._transitions or any(self._changes()))

    def _changes(self) -> Iterable[tuple[LeadId, dict[str, Any]]]:
        for lead_id, stored in self._stored.items():
            lead = self._leads.get(lead_id)
            if lead is None:
                continue
            changed = {name: value for name in COLUMNS if (value := getattr(lead, name)) != stored[name]}
            if changed:
                yield lead_id, changed

    async def save(self, uow: UnitOfWork) -> None:
        """Write what is pending: new leads, then changes grouped by the columns they touch, then transitions."""
        session = uow.session
        new = [_columns_of(lead) for i in sorted(self._new) if (lead := self._leads.get(i)) is not None]
        if new:
            await session.execute(insert(leads), new)
        changes = list(self._changes())
        for columns, rows in _by_columns({**values, "b_lead_id": lead_id} for lead_id, values in changes).items():
            statement = (
                update(leads)
                .where(leads.c.lead_id == bindparam("b_lead_id"))
                .values({name: bindparam(name) for name in sorted(columns - {"b_lead_id"})})
            )
            await session.execute(statement, rows)
        if self._transitions:
            await session.execute(insert(transitions), self._transitions)
        for lead_id in self._new:
            if (lead := self._leads.get(lead_id)) is not None:
                self._stored[lead_id] = _snapshot(lead)
        for lead_id, _ in changes:
            lead = self._leads[lead_id]
            assert lead is not None
            self._stored[lead_id] = _snapshot(lead)
        self._new, self._transitions = set(), []


def _lead(row: Any) -> Lead:
    """A lead from its stored columns (SQLite returns times without their zone: they are UTC)."""
    lead = Lead(**{name: row[name] for name in COLUMNS})
    lead.facts = dict(lead.facts or {})
    for name in ("last_activity_at", "stage_changed_at", "updated_at", "handoff_at", "handoff_due_at"):
        if (moment := getattr(lead, name)) is not None:
            setattr(lead, name, aware(moment))
    return lead


def _columns_of(lead: Lead) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in COLUMNS}


def _snapshot(lead: Lead) -> dict[str, Any]:
    # Facts are replaced, never changed in place (domain/facts.py returns new dicts): a shallow copy suffices.
    return _columns_of(lead) | {"facts": dict(lead.facts)}


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
