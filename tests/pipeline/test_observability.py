"""What Grafana and the alerts read is what the services export, through a real Prometheus server."""

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.embedded.dev import EmbeddedPipeline
from services.registry import SERVICE_NAMES
from tests.pipeline import monitoring
from tests.pipeline.driving import get_json, post_webhook, url
from tests.support import bearer, lead_payload, wait_until

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\bleadflow_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum", "_created")}


@pytest.fixture(scope="module")
def busy_pipeline(pipeline: EmbeddedPipeline) -> EmbeddedPipeline:
    """The pipeline after real traffic: leads, a refused delivery, a won deal, gauges refreshed."""
    ids = [
        post_webhook(pipeline, lead_payload(job_title="CTO", activity="demo_requested"))["lead_id"] for _ in range(5)
    ]
    ids += [post_webhook(pipeline, lead_payload(job_title="Student"))["lead_id"] for _ in range(5)]
    refused = httpx.post(
        f"{url(pipeline, 'intake')}/v1/webhooks/generic",
        content=b"{}",
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert refused.status_code == 401
    for lead_id in ids:
        wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), what="lead staged")  # noqa: B023
    opened = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/opportunities",
        headers=bearer(),
        timeout=10,
        json={
            "lead_id": ids[0],
            "name": "Metrics deal",
            "amount": "9000",
            "expected_close_date": (date.today() + timedelta(days=5)).isoformat(),
        },
    ).json()
    httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/opportunities/{opened['opportunity_id']}/close",
        headers=bearer(),
        json={"won": True},
        timeout=10,
    ).raise_for_status()
    # The gauges exist from the first computation; wait until it has seen the won deal, not merely for them.
    wait_until(lambda: _won_this_month(scrape(pipeline)["forecast"]) >= 9000, what="the won deal in the forecast")
    return pipeline


def _won_this_month(text: str) -> float:
    series = 'leadflow_forecast_amount{currency="USD",line="closed_won",offset="current",period="month"}'
    return _value(text, series) if series + " " in text else 0.0


def scrape(pipeline: EmbeddedPipeline) -> dict[str, str]:
    return {name: httpx.get(f"{p.url}/metrics", timeout=5).text for name, p in pipeline.processes.items()}


def exported_names(expositions: dict[str, str]) -> set[str]:
    """Every sample name the services can expose, from their # TYPE lines (labelled metrics included)."""
    names = set()
    for text in expositions.values():
        for metric, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
            base = metric.removesuffix("_total") if kind == "counter" else metric
            names |= {base + suffix for suffix in SUFFIXES.get(kind, ("",))}
    return names


def dashboard_expressions() -> dict[str, list[str]]:
    found = {}
    for path in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        found[path.name] = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    return found


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_every_dashboard_and_alert_metric_is_exported(busy_pipeline: EmbeddedPipeline) -> None:
    exported = exported_names(scrape(busy_pipeline))
    expressions = [e for exprs in dashboard_expressions().values() for e in exprs] + alert_expressions()
    used = {name for expr in expressions for name in METRIC.findall(expr)}
    assert len(used) >= 15
    missing = used - exported
    assert not missing, f"dashboards or alerts name metrics no service exports: {sorted(missing)}"


def test_metrics_tell_the_truth_about_the_traffic(busy_pipeline: EmbeddedPipeline) -> None:
    texts = scrape(busy_pipeline)
    assert _value(texts["intake"], 'leadflow_leads_captured_total{provider="generic"}') >= 10
    assert _value(texts["intake"], 'leadflow_webhook_requests_total{provider="generic",status="401"}') >= 1
    assert (
        _value(texts["qualifier"], 'leadflow_stage_transitions_total{from_stage="opportunity",to_stage="customer"}')
        >= 1
    )
    assert _value(texts["scorer"], 'leadflow_leads_scored_total{segment="hot"}') >= 5
    assert (
        _value(
            texts["forecast"],
            'leadflow_forecast_amount{currency="USD",line="closed_won",offset="current",period="month"}',
        )
        >= 9000
    )
    assert (
        _value(texts["forecast"], 'leadflow_funnel_conversion_ratio{from_stage="opportunity",to_stage="customer"}') > 0
    )
    assert "leadflow_consumer_lag_events{" in texts["scorer"]
    assert _value(texts["intake"], "leadflow_outbox_backlog_events") == 0
    # Every lead captured got its score and its first stage, each within the SLO's minute (the freshness SLO).
    for service, decision in (("scorer", "score"), ("qualifier", "stage")):
        decided = _value(texts[service], f'leadflow_decision_freshness_seconds_count{{decision="{decision}"}}')
        assert decided >= 10
        in_time = _value(
            texts[service], f'leadflow_decision_freshness_seconds_bucket{{decision="{decision}",le="60.0"}}'
        )
        assert in_time == decided
    assert "leadflow_decision_freshness_seconds_count{" not in texts["forecast"]  # it decides nothing on a capture


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not exported")


@pytest.fixture
def prometheus(busy_pipeline: EmbeddedPipeline, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus server scraping every service every second, with leadflow's alert rules."""
    with monitoring.prometheus(busy_pipeline, tmp_path) as base:
        yield base


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def _healthy_targets(base: str) -> list[dict[str, Any]] | None:
    targets = monitoring.healthy_targets(base)
    return targets if len(targets) == len(SERVICE_NAMES) else None


def _evaluated_rules(base: str) -> list[dict[str, Any]] | None:
    groups = httpx.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules: list[dict[str, Any]] = [r for g in groups for r in g["rules"]]
    return rules if rules and all(r.get("health") == "ok" for r in rules) else None


def test_prometheus_scrapes_the_pipeline_and_sees_new_leads(busy_pipeline: EmbeddedPipeline, prometheus: str) -> None:
    targets = wait_until(lambda: _healthy_targets(prometheus), timeout_s=30, what="every service a healthy target")
    assert {t["labels"]["service"] for t in targets} == set(SERVICE_NAMES)
    before = wait_until(lambda: _query(prometheus, "sum(leadflow_leads_captured_total)"), what="first sample")
    start = float(before[0]["value"][1])
    for _ in range(3):
        post_webhook(busy_pipeline, lead_payload())
    wait_until(
        lambda: float(_query(prometheus, "sum(leadflow_leads_captured_total)")[0]["value"][1]) >= start + 3,
        timeout_s=30,
        what="the three new leads in Prometheus",
    )
    rules = wait_until(lambda: _evaluated_rules(prometheus), timeout_s=30, what="alert rules evaluated")
    assert len(rules) == len(alert_expressions()) >= 11  # every rule in alerts.yml is loaded and evaluated
    # Real traffic, no fault: nothing should be firing except possibly nothing at all.
    assert not [r["name"] for r in rules if r.get("state") == "firing"]


def test_every_dashboard_query_runs_in_prometheus(busy_pipeline: EmbeddedPipeline, prometheus: str) -> None:
    """Each panel's query, with its variables at "All" (one currency), is PromQL Prometheus evaluates; the panels
    of what this traffic produced show data."""
    wait_until(lambda: _healthy_targets(prometheus), timeout_s=30, what="every service a healthy target")
    wait_until(lambda: _query(prometheus, "leadflow_forecast_amount"), timeout_s=30, what="a scrape of the forecast")
    empty = []
    for board, expressions in dashboard_expressions().items():
        for expr in expressions:
            query = expr.replace("$currency", "USD")
            for variable in ("$service", "$instance", "$provider"):
                query = query.replace(variable, ".*")
            if not _query(prometheus, query):
                empty.append(f"{board}: {expr}")
    # rate() needs two samples of a series that moved; what is left empty must be only those.
    assert all("rate(" in e or "increase(" in e or "leadflow:" in e for e in empty), empty
    for shown in ("leadflow_broker_reachable", "leadflow_consumer_lag_events", "leadflow_forecast_amount"):
        assert not [e for e in empty if shown in e], shown


def test_counters_an_alert_reads_with_increase_exist_before_their_first_event(busy_pipeline: EmbeddedPipeline) -> None:
    """increase() sees nothing of a series that appears with its first event: the first dead letter or the
    first regression would never alert, and "no leads since the deploy" would read as no data."""
    texts = scrape(busy_pipeline)
    for consumer in ("scorer", "qualifier", "forecast"):
        assert f'leadflow_dead_letters_total{{consumer="{consumer}",topic="leads.identity"}} 0.0' in texts[consumer]
        assert (
            f'leadflow_consumer_offset_regressions_total{{consumer="{consumer}",topic="leads.identity"}}'
            in (texts[consumer])
        )
    assert 'leadflow_leads_captured_total{provider="api"}' in texts["intake"]
    assert 'leadflow_leads_captured_total{provider="generic"}' in texts["intake"]
