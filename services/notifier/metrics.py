"""Notifier's series: deliveries by result and their latency (counted by the replica that sent them), and the
queues (computed by one replica on a timer, like every service-wide gauge)."""

from prometheus_client import Counter, Gauge, Histogram

from services.notifier.persistence import repository
from shared.db.database import Database
from shared.metrics import JobGauges, Metrics


class NotifierMetrics:
    """Registered on the service's registry."""

    def __init__(self, metrics: Metrics, database: Database, every_s: float) -> None:
        self._database = database
        r = metrics.registry
        self.deliveries = Counter(
            "leadflow_notifier_deliveries_total",
            "Outbound webhook delivery attempts by format and result (delivered, failed)",
            ["format", "result"],
            registry=r,
        )
        self.latency = Histogram(
            "leadflow_notifier_delivery_seconds",
            "Time an endpoint took to answer a delivery (or to time out)",
            ["format"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.disabled = Counter(
            "leadflow_notifier_endpoints_disabled",
            "Endpoints disabled after a day of failures or a 410 Gone",
            registry=r,
        )
        self._computed = JobGauges(r, every_s)
        g = self._computed.registry
        self.pending = Gauge(
            "leadflow_notifier_pending",
            "Deliveries waiting, by the state of their endpoint (each endpoint's queue: GET /v1/subscriptions)",
            ["state"],
            registry=g,
        )
        self.endpoints = Gauge(
            "leadflow_notifier_endpoints", "Subscriptions by state (active, failing, disabled)", ["state"], registry=g
        )

    def delivered(self, format_: str, ok: bool, seconds: float) -> None:
        """One attempt."""
        self.deliveries.labels(format_, "delivered" if ok else "failed").inc()
        self.latency.labels(format_).observe(seconds)

    async def refresh(self) -> None:
        """Recompute the queue gauges."""
        async with self._database.session() as session:
            found = await repository.all_subscriptions(session)
            depths = await repository.queue_depths(session)
        endpoints = dict.fromkeys(("active", "failing", "disabled"), 0)
        pending = dict.fromkeys(endpoints, 0)
        for s in found:
            state = "disabled" if s["disabled_at"] else "failing" if s["failures"] else "active"
            endpoints[state] += 1
            pending[state] += depths.get(s["subscription_id"], 0)
        for state in endpoints:
            self.endpoints.labels(state).set(endpoints[state])
            self.pending.labels(state).set(pending[state])
        self._computed.computed()
