"""`leadflow requalify`: what new rules would do to every lead, before (or instead of) doing it."""

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.qualifier.commands.qualification import Qualifier
from services.qualifier.domain.frameworks import evaluate_framework
from services.qualifier.domain.rules import QualifierRules
from services.qualifier.domain.stages import Decision, Situation, decide
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows, save_and_commit
from shared.db.database import Database, aware
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.vocabulary import LeadStage
from shared.ids import LeadId

_PAGE = 500


@dataclass(frozen=True)
class Move:
    """One lead that new rules would move, how, and which criteria changed their verdict."""

    lead_id: LeadId
    from_stage: str
    moves: list[Decision]
    changed_criteria: list[str]

    @property
    def route(self) -> tuple[str, str]:
        """(from, to) of the whole move."""
        return self.from_stage, self.moves[-1].target.value


@dataclass
class Plan:
    """What would change: counts by route and a few examples of each."""

    evaluated: int = 0
    moves: list[Move] = field(default_factory=list)

    def routes(self) -> Counter[tuple[str, str]]:
        """How many leads would go from where to where."""
        return Counter(m.route for m in self.moves)

    def examples(self, per_route: int) -> dict[tuple[str, str], list[Move]]:
        """The first few leads of each route."""
        found: dict[tuple[str, str], list[Move]] = defaultdict(list)
        for move in self.moves:
            if len(found[move.route]) < per_route:
                found[move.route].append(move)
        return found


def what_if(lead: dict[str, Any], old: QualifierRules, new: QualifierRules, now: datetime) -> Move | None:
    """The moves new rules would make for one lead right now; None when it would stay."""
    facts = lead.get("facts") or {}
    q_new = new.qualification
    results = {n: evaluate_framework(n, f, facts) for n, f in q_new.frameworks.items()}
    last = lead.get("last_activity_at")
    stalled = None
    if last is not None:
        last = aware(last)
        days = (now - last).total_seconds() / 86_400
        stalled = days if days >= q_new.stall_days else None
    moves = decide(
        Situation(
            stage=LeadStage(lead["stage"]),
            mql=bool(lead.get("mql")),
            score=lead.get("score"),
            qualification=results[q_new.qualify_with],
            opportunity=results[q_new.open_opportunity_with],
            stalled_days=stalled,
        )
    )
    if not moves:
        return None
    before = {
        c.criterion: c.outcome
        for n, f in old.qualification.frameworks.items()
        for c in evaluate_framework(n, f, facts).criteria
    }
    after = {c.criterion: c.outcome for r in results.values() for c in r.criteria}
    changed = [
        f"{name}: {before.get(name, 'absent')} → {outcome.value}"
        for name, outcome in after.items()
        if before.get(name) != outcome
    ]
    return Move(lead_id=LeadId(lead["lead_id"]), from_stage=lead["stage"], moves=moves, changed_criteria=changed)


async def all_leads(database: Database) -> AsyncIterator[dict[str, Any]]:
    """Every lead, a page at a time."""
    offset = 0
    while True:
        async with database.session() as session:
            page = await repository.list_leads(session, repository.LeadFilter(), limit=_PAGE, offset=offset)
        for lead in page:
            yield lead
        if len(page) < _PAGE:
            return
        offset += _PAGE


async def plan(database: Database, old: QualifierRules, new: QualifierRules, now: datetime | None = None) -> Plan:
    """Evaluate every lead under the new rules without changing anything."""
    now = now or datetime.now(UTC)
    result = Plan()
    async for lead in all_leads(database):
        result.evaluated += 1
        move = what_if(lead, old, new, now)
        if move is not None:
            result.moves.append(move)
    return result


async def apply(
    database: Database,
    new: QualifierRules,
    lead_ids: Iterable[LeadId],
    *,
    actor: str,
    progress: Callable[[], None] = lambda: None,
) -> int:
    """Re-qualify these leads under the new rules for real: transitions recorded, events emitted."""
    qualifier = Qualifier(UnitOfWorkFactory(database), new)
    moved = 0
    now = datetime.now(UTC)
    for lead_id in lead_ids:
        progress()
        async with UnitOfWorkFactory(database)() as uow:
            lead = await lead_rows(uow).get(uow.session, lead_id)
            if lead is None:
                continue
            moved += bool(await qualifier.requalify(uow, lead, qualifier.cause(actor, now)))
            await save_and_commit(uow)
    return moved
