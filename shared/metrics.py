"""Prometheus metrics every service exports; a registry per service so several can share a process."""

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a lead's capture to a decision on it: sub-second when healthy, minutes in an outage. 60 s is the SLO's
# bound (deploy/prometheus/alerts.yml reads the le="60.0" bucket), so it must stay one of them.
FRESHNESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class Metrics:
    """The plumbing metrics of one service; services register their own on `registry`."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "leadflow_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "leadflow_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.webhook_requests = Counter(
            "leadflow_webhook_requests_total",
            "Webhook deliveries by provider and status",
            ["provider", "status"],
            registry=r,
        )
        self.events_produced = Counter(
            "leadflow_events_produced_total",
            "Events published to Kafka by the outbox relay",
            ["topic", "type"],
            registry=r,
        )
        self.events_consumed = Counter(
            "leadflow_events_consumed_total", "Events applied by a consumer", ["consumer", "type"], registry=r
        )
        self.events_skipped = Counter(
            "leadflow_events_duplicate_total",
            "Redelivered events skipped by the inbox",
            ["consumer", "type"],
            registry=r,
        )
        self.events_failed = Counter(
            "leadflow_events_failed_total", "Event processing attempts that raised", ["consumer", "type"], registry=r
        )
        self.dead_letters = Counter(
            "leadflow_dead_letters_total", "Events sent to a dead-letter topic", ["consumer", "topic"], registry=r
        )
        self.processing_latency = Histogram(
            "leadflow_event_processing_seconds",
            "Time to apply one consumed batch",
            ["consumer"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decision_freshness = Histogram(
            "leadflow_decision_freshness_seconds",
            "From the moment intake accepted a lead to the commit of a decision on it (score, first stage)",
            ["decision"],
            buckets=FRESHNESS_BUCKETS,
            registry=r,
        )
        self.broker_reachable = Gauge(
            "leadflow_broker_reachable",
            "1 while the broker answered this replica's last metadata request, 0 while it does not",
            registry=r,
        )
        self.outbox_backlog = Gauge("leadflow_outbox_backlog_events", "Outbox rows not yet published", registry=r)
        self.outbox_parked = Gauge(
            "leadflow_outbox_parked_events",
            "Outbox rows the broker refused for good, waiting for an operator (leadflow outbox list | retry)",
            registry=r,
        )
        self.outbox_refusals = Counter(
            "leadflow_outbox_refusals_total",
            "Outbox rows the broker did not take, by what became of them (retried, parked)",
            ["topic", "outcome"],
            registry=r,
        )
        self.jobs_run = Counter(
            "leadflow_jobs_run_total", "Periodic job runs this replica claimed and ran", ["job", "outcome"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "leadflow_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", registry=r
        )
        self.offset_regressions = Counter(
            "leadflow_consumer_offset_regressions_total",
            "Partitions whose log ended before what this consumer group had applied (the broker lost events)",
            ["consumer", "topic"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "leadflow_consumer_lag_events",
            "The group's committed offset behind the partition's end, as the broker reports both (every replica "
            "measures the whole group: take the max per partition)",
            ["consumer", "topic", "partition"],
            registry=r,
        )


class JobGauges(Collector):
    """Gauges that one replica's leased job computes for the whole service (leads per segment, the forecast).

    Every replica defines them, but only one computes them per interval. Exported by all, the others showed the
    values of whenever they last ran (or nothing but zeros) and a `sum` in a dashboard counted each lead once per
    replica. Here a replica exports them only while its own computation is recent: one replica, two during a
    hand-over (dashboards take the `max`), none when the job stopped running anywhere (the panel goes empty
    instead of showing a frozen figure).
    """

    def __init__(self, registry: CollectorRegistry, every_s: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)  # where the gauges are defined
        self._fresh_for_s = 2.5 * every_s  # a missed run or a late one is not yet a stop
        self._computed_at: float | None = None
        registry.register(self)

    def computed(self) -> None:
        """The job has just set every gauge."""
        self._computed_at = time.monotonic()

    def collect(self) -> Iterable[Metric]:
        """The gauges, while this replica's computation is recent."""
        if self._computed_at is not None and time.monotonic() - self._computed_at <= self._fresh_for_s:
            yield from self.registry.collect()

    def describe(self) -> Iterable[Metric]:
        """Nothing: the gauges are defined after registration, in `registry`, which checks their names."""
        return ()
