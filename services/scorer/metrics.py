"""Scorer's own metrics: scores by segment as they are committed, and the current population per segment."""

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from services.scorer.persistence.tables import profiles
from shared.db.database import Database
from shared.events.envelope import Event
from shared.events.models import LeadScored
from shared.events.vocabulary import Segment
from shared.metrics import JobGauges, Metrics


class ScorerMetrics:
    """Counters from committed lead.scored events and a gauge refreshed from the profiles table."""

    def __init__(self, metrics: Metrics, database: Database, every_s: float) -> None:
        self._database = database
        r = metrics.registry
        self._computed = JobGauges(r, every_s)
        g = self._computed.registry
        self.scored = Counter("leadflow_leads_scored_total", "Scores committed, by segment", ["segment"], registry=r)
        self.mql_crossings = Counter("leadflow_mql_crossings_total", "Leads that crossed the MQL threshold", registry=r)
        self.by_segment = Gauge(
            "leadflow_leads_by_segment", "Scored leads currently in each segment", ["segment"], registry=g
        )
        for segment in Segment:
            self.scored.labels(segment.value)
            self.by_segment.labels(segment.value)

    def on_commit(self, events: list[Event]) -> None:
        """Count committed scores."""
        for event in events:
            if isinstance(event.payload, LeadScored):
                self.scored.labels(event.payload.segment.value).inc()
                if event.payload.mql_crossed:
                    self.mql_crossings.inc()

    async def refresh(self) -> None:
        """Recount leads per segment."""
        async with self._database.session() as session:
            result = await session.execute(select(profiles.c.segment, func.count()).group_by(profiles.c.segment))
            counts: dict[str, int] = {stage: count for stage, count in result.all()}
        for segment in Segment:
            self.by_segment.labels(segment.value).set(counts.get(segment.value, 0))
        self._computed.computed()
