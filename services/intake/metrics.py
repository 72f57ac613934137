"""Intake's own metrics, counted from committed events only."""

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from shared.events.envelope import Event
from shared.events.models import LeadCaptured
from shared.metrics import Metrics


class IntakeMetrics:
    """Leads captured per provider: the signal behind the "no leads captured" alert."""

    def __init__(self, metrics: Metrics, providers: Iterable[str] = ()) -> None:
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
        # At 0 from the start for every source that can send leads: "none since the deploy" and a provider gone
        # quiet are only visible to increase() and rate() on a series that exists.
        for provider in providers:
            self.captured.labels(provider)

    def on_commit(self, events: list[Event]) -> None:
        """Count what a transaction actually committed."""
        for event in events:
            if isinstance(event.payload, LeadCaptured):
                self.captured.labels(event.payload.source.provider).inc()
