"""Qualifier's own metrics: stage transitions as committed, and the current population per stage."""

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from services.qualifier.persistence.tables import leads
from shared.db.database import Database
from shared.events.envelope import Event
from shared.events.models import LeadHandoffChanged, LeadStageChanged
from shared.events.vocabulary import LeadStage
from shared.metrics import JobGauges, Metrics


class QualifierMetrics:
    """Transitions by from/to (both bounded by the stage vocabulary) and leads per stage."""

    def __init__(self, metrics: Metrics, database: Database, every_s: float) -> None:
        self._database = database
        r = metrics.registry
        self._computed = JobGauges(r, every_s)
        g = self._computed.registry
        self.transitions = Counter(
            "leadflow_stage_transitions_total", "Committed stage transitions", ["from_stage", "to_stage"], registry=r
        )
        self.handoffs = Counter(
            "leadflow_handoffs_total",
            "Hand-offs to owners by team and outcome (assigned, accepted, rejected, breached); rejections by reason",
            ["team", "status", "reason"],
            registry=r,
        )
        self.by_stage = Gauge("leadflow_leads_by_stage", "Leads currently in each stage", ["stage"], registry=g)
        for stage in LeadStage:
            self.by_stage.labels(stage.value)

    def on_commit(self, events: list[Event]) -> None:
        """Count committed transitions."""
        for event in events:
            if isinstance(event.payload, LeadStageChanged):
                source = event.payload.from_stage.value if event.payload.from_stage else "none"
                self.transitions.labels(source, event.payload.to_stage.value).inc()
            elif isinstance(event.payload, LeadHandoffChanged):
                handoff = event.payload
                reason = handoff.reason if handoff.status == "rejected" else (handoff.action or "")
                self.handoffs.labels(handoff.team or "", handoff.status, reason or "").inc()

    async def refresh(self) -> None:
        """Recount leads per stage."""
        async with self._database.session() as session:
            result = await session.execute(select(leads.c.stage, func.count()).group_by(leads.c.stage))
            counts: dict[str, int] = {stage: count for stage, count in result.all()}
        for stage in LeadStage:
            self.by_stage.labels(stage.value).set(counts.get(stage.value, 0))
        self._computed.computed()
