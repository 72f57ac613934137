"""Intake's own metrics, counted from committed events only."""

from prometheus_client import Counter, Histogram

from shared.events.envelope import Event
from shared.events.models import LeadCaptured
from shared.metrics import Metrics


class IntakeMetrics:
    """Leads captured per provider: the signal behind the "no leads captured" alert."""

    def __init__(self, metrics: Metrics) -> None:
        self.group_size = Histogram(
            "leadflow_webhook_group_size",
            "Deliveries committed together in one transaction",
            buckets=(1, 2, 5, 10, 25, 50, 100),
            registry=metrics.registry,
        )
        self.captured = Counter(
            "leadflow_leads_captured_total",
            "Leads captured (committed), by provider",
            ["provider"],
            registry=metrics.registry,
        )

    def on_commit(self, events: list[Event]) -> None:
        """Count what a transaction actually committed."""
        for event in events:
            if isinstance(event.payload, LeadCaptured):
                self.captured.labels(event.payload.source.provider).inc()
