"""What a replica exports of the gauges a leased job computes for the whole service."""

import time

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from shared.metrics import JobGauges


def test_only_a_replica_that_computed_lately_exports_the_service_wide_gauges() -> None:
    replicas = [CollectorRegistry() for _ in range(2)]
    computed = [JobGauges(registry, every_s=0.04) for registry in replicas]  # fresh for 0.1 s
    gauges = [Gauge("leadflow_leads_by_stage", "leads", ["stage"], registry=c.registry) for c in computed]
    for gauge in gauges:
        gauge.labels("mql").set(0)

    gauges[0].labels("mql").set(42)
    computed[0].computed()  # replica 0 claimed the job this interval; replica 1 never ran it
    assert b'leadflow_leads_by_stage{stage="mql"} 42.0' in generate_latest(replicas[0])
    assert b"leadflow_leads_by_stage" not in generate_latest(replicas[1])  # not a 0 beside the real figure

    time.sleep(0.15)  # the job stopped running here: no frozen figure either
    assert b"leadflow_leads_by_stage" not in generate_latest(replicas[0])
