"""Re-qualification: evaluate the frameworks on a lead's facts, move it, route it, open its opportunity."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from services.qualifier.commands.opportunities import MergedLead, NotFound
from services.qualifier.domain import opportunity as opp
from services.qualifier.domain.cause import Cause
from services.qualifier.domain.facts import with_evidence
from services.qualifier.domain.frameworks import FrameworkResult, evaluate_framework
from services.qualifier.domain.handoff import due_at
from services.qualifier.domain.lead import Lead
from services.qualifier.domain.routing import assign, team_for
from services.qualifier.domain.rules import QualifierRules
from services.qualifier.domain.stages import OPEN_STAGES, Decision, Situation, check_transition, decide
from services.qualifier.persistence import repository
from services.qualifier.persistence.lead_rows import lead_rows, save_and_commit
from services.qualifier.transitions import handoff_changed, move, save_opportunity, set_owner
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.vocabulary import LeadStage
from shared.ids import as_lead_id

# Leads an owner is working on: these count against the owner's capacity.
OWNED_STAGES = [LeadStage.PROSPECT.value, LeadStage.OPPORTUNITY.value]
_SWEEP_BATCH = 500


class Qualifier:
    """Runs the configured frameworks and the stage machine whenever something new is known of a lead."""

    def __init__(self, uow: UnitOfWorkFactory, rules: QualifierRules) -> None:
        self._uow = uow
        self.rules = rules

    def evaluate(self, facts: dict[str, Any]) -> dict[str, FrameworkResult]:
        """Every configured framework's verdict on these facts."""
        return {name: self._verdict(name, facts) for name in self.rules.qualification.frameworks}

    def _verdict(self, framework: str, facts: dict[str, Any]) -> FrameworkResult:
        return evaluate_framework(framework, self.rules.qualification.frameworks[framework], facts)

    def cause(self, actor: str, now: datetime, correlation_id: str | None = None) -> Cause:
        """A decision by `actor` now, under these rules, for the event with `correlation_id` (a command's own
        decision: a new one)."""
        if correlation_id is None:
            return Cause(actor, now, self.rules.version)
        return Cause(actor, now, self.rules.version, correlation_id)

    async def requalify(self, uow: UnitOfWork, lead: Lead, cause: Cause) -> list[Decision]:
        """Move the lead as far as its evidence takes it, in this unit of work."""
        q_rules = self.rules.qualification
        facts = lead.facts
        # Only the two frameworks that decide moves: the others (BANT beside PIF, say) are for reading, and
        # evaluating every framework on every event was a third of the qualifier's CPU.
        qualification = self._verdict(q_rules.qualify_with, facts)
        opportunity = (
            qualification
            if q_rules.open_opportunity_with == q_rules.qualify_with
            else self._verdict(q_rules.open_opportunity_with, facts)
        )
        moves = decide(
            Situation(
                stage=lead.current_stage,
                mql=bool(lead.mql),
                score=lead.score,
                qualification=qualification,
                opportunity=opportunity,
                stalled_days=self._stalled_days(lead, cause.at),
                news_since_stage=lead.last_activity_at is not None and lead.last_activity_at > lead.stage_changed_at,
            )
        )
        criteria = qualification.criteria + (opportunity.criteria if opportunity is not qualification else [])
        for decision in moves:
            if decision.target is LeadStage.PROSPECT and not lead.owner:
                await self.route(uow, lead, cause)
            await move(uow, lead, decision.target, cause, reason=decision.reason, criteria=criteria)
            if decision.target is LeadStage.OPPORTUNITY:
                await self._open_automatically(uow, lead, cause)
        return moves

    def _stalled_days(self, lead: Lead, now: datetime) -> float | None:
        last = lead.last_activity_at
        if last is None:
            return None
        days = (now - last).total_seconds() / 86_400
        return days if days >= self.rules.qualification.stall_days else None

    async def route(self, uow: UnitOfWork, lead: Lead, cause: Cause, *, exclude: frozenset[str] = frozenset()) -> None:
        """Give the lead an owner by the routing rules (territory, segment, round robin, capacity)."""
        session = uow.session
        routing = self.rules.routing
        await lead_rows(uow).save(uow)  # owners' loads are counted in the leads table: write what is pending
        loads = await repository.owner_loads(session, OWNED_STAGES)
        inactive = await repository.inactive_owners(session)
        team, _ = team_for(routing, lead.facts)
        position = await repository.routing_position(session, team)
        chosen = assign(routing, lead.facts, loads=loads, position=position, inactive=inactive, exclude=exclude)
        await repository.set_routing_position(session, chosen.team, chosen.next_position)
        set_owner(uow, lead, chosen.owner, cause, team=chosen.team, reason=chosen.reason)
        if lead.owner:
            self.hand_off(uow, lead, cause)

    def hand_off(self, uow: UnitOfWork, lead: Lead, cause: Cause) -> None:
        """The lead is its owner's to accept within the segment's SLA (working hours)."""
        lead.handoff_at = cause.at
        lead.handoff_due_at = self._due(lead, cause.at)
        handoff_changed(uow, lead, "assigned", cause, due_at=lead.handoff_due_at)

    def segment_changed(self, lead: Lead) -> None:
        """A pending hand-off's SLA follows the lead's segment (a lead is often routed before its first score)."""
        if lead.handoff_status == "pending" and lead.handoff_at is not None:
            lead.handoff_due_at = self._due(lead, lead.handoff_at)

    def _due(self, lead: Lead, since: datetime) -> datetime:
        rules = self.rules.routing.handoff
        # Not scored yet: the longest SLA, so nobody is paged for a lead whose segment is unknown.
        hours = rules.sla_hours.get(lead.segment or "", max(rules.sla_hours.values(), default=40.0))
        return due_at(since, hours, rules.working_hours)

    async def _open_automatically(self, uow: UnitOfWork, lead: Lead, cause: Cause) -> None:
        if await repository.open_opportunities_of(uow.session, lead.lead_id):
            return
        rules = self.rules.opportunities
        facts = lead.facts
        amount = _amount(facts.get("evidence.budget")) or rules.default_amount
        company = facts.get("company.name") or facts.get("contact.email_domain") or "lead"
        created = opp.open_opportunity(
            rules,
            lead_id=UUID(lead.lead_id),
            name=f"{company} (opened on {self.rules.qualification.open_opportunity_with})",
            amount=amount,
            currency=None,
            expected_close_date=(cause.at + timedelta(days=rules.default_cycle_days)).date(),
            pipeline_stage=None,
            owner=lead.owner,
            source=lead.source,
            now=cause.at,
        )
        await save_opportunity(uow, created, cause, previous=None)

    async def record_evidence(
        self, lead_id: UUID, items: dict[str, Any], *, note: str | None, actor: str
    ) -> list[Decision]:
        """Store a rep's evidence and re-qualify on it."""
        now = datetime.now(UTC)
        async with self._uow() as uow:
            lead = await self._lead(uow, lead_id)
            lead.facts = with_evidence(lead.facts, items)
            lead.last_activity_at = lead.updated_at = now
            await repository.record_evidence(
                uow.session,
                [
                    {
                        "lead_id": lead.lead_id,
                        "key": k,
                        "value": v,
                        "note": note,
                        "recorded_by": actor,
                        "recorded_at": now,
                    }
                    for k, v in items.items()
                ],
            )
            moves = await self.requalify(uow, lead, self.cause(actor, now))
            await save_and_commit(uow)
        return moves

    async def override(self, lead_id: UUID, target: LeadStage, *, reason: str, actor: str) -> None:
        """A rep moves a lead by hand: still only along legal transitions, and audited with the reason."""
        now = datetime.now(UTC)
        async with self._uow() as uow:
            lead = await self._lead(uow, lead_id)
            check_transition(lead.current_stage, target)
            results = self.evaluate(lead.facts)
            cause = self.cause(f"{actor} (override)", now)
            if target is LeadStage.PROSPECT and not lead.owner:
                await self.route(uow, lead, cause)
            criteria = [c for r in results.values() for c in r.criteria]
            await move(uow, lead, target, cause, reason=f"manual override: {reason}", criteria=criteria)
            await save_and_commit(uow)

    async def sweep_stalled(self, now: datetime | None = None) -> int:
        """Re-qualify leads that went quiet, so the stalled ones go to nurture; returns how many moved."""
        now = now or datetime.now(UTC)
        before = now - timedelta(days=self.rules.qualification.stall_days)
        moved = 0
        async with self._uow() as uow:
            ids = await repository.stalled_leads(
                uow.session, [LeadStage.LEAD.value, LeadStage.MQL.value], before, _SWEEP_BATCH
            )
        for lead_id in ids:
            async with self._uow() as uow:
                lead = await lead_rows(uow).get(uow.session, lead_id)
                if lead is None:
                    continue
                moved += bool(await self.requalify(uow, lead, self.cause("qualifier (stall check)", now)))
                await save_and_commit(uow)
        return moved

    async def sync_owners(self) -> None:
        """Teach the owners table the owners the rules name."""
        team_of = {m: team for team, t in self.rules.routing.teams.items() for m in t.members}
        async with self._uow() as uow:
            await repository.sync_owners(uow.session, team_of)
            await save_and_commit(uow)

    async def remove_owner(self, owner: str, *, actor: str) -> int:
        """Remove an owner and hand each of its open leads to another by the same rules."""
        now = datetime.now(UTC)
        async with self._uow() as uow:
            if not await repository.deactivate_owner(uow.session, owner, now):
                raise NotFound(f"no active owner {owner!r}")
            held_ids = await repository.leads_owned_by(uow.session, owner, [s.value for s in OPEN_STAGES])
            rows = lead_rows(uow)
            await rows.preload(uow.session, held_ids)  # locked like every other writer's leads
            held = [lead for i in held_ids if (lead := await rows.get(uow.session, i)) is not None]
            cause = self.cause(actor, now)
            for lead in held:
                await self.route(uow, lead, cause, exclude=frozenset({owner}))
                for opportunity_id in await repository.open_opportunities_of(uow.session, lead.lead_id):
                    current = await repository.load_opportunity(uow.session, opportunity_id, lock=True)
                    if current is not None and lead.owner:
                        changed = opp.change(self.rules.opportunities, current, now=now, owner=lead.owner)
                        if changed is not current:
                            await save_opportunity(uow, changed, cause, previous=current)
            await save_and_commit(uow)
        return len(held)

    async def _lead(self, uow: UnitOfWork, lead_id: UUID) -> Lead:
        lead = await lead_rows(uow).get(uow.session, as_lead_id(lead_id))
        if lead is None:
            raise NotFound(f"no lead {lead_id} has reached the qualifier yet")
        if lead.merged_into:
            raise MergedLead(lead_id, lead.merged_into)
        return lead


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return None
    return amount if amount >= 0 else None
