"""The Grafana dashboards: valid for Grafana's own schema, and true however many replicas run (#17)."""

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.runtime import panelcfg_config
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.support import lost_in_round_trip

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
METRIC = re.compile(r"\b(leadflow_[a-z0-9_]+|up)\b")
plugins.register_default_plugins()


def _board(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / name).read_text())  # type: ignore[no-any-return]


def _expressions(board: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def _unknown_to_grafana(board: dict[str, Any]) -> list[str]:
    """What Grafana's schema (the grafana-foundation-sdk models, generated from it) does not know: keys it drops
    on a round trip, values it changes, panel types with no plugin."""
    back = json.loads(json.dumps(Dashboard.from_json(copy.deepcopy(board)), cls=JSONEncoder))
    found = [f"panel {p.get('id')}: no {p['type']!r} panel" for p in board["panels"] if not panelcfg_config(p["type"])]

    return found + lost_in_round_trip(board, back)


@pytest.mark.parametrize("name", ["operations.json", "revenue.json"])
def test_dashboards_are_what_grafanas_schema_describes(name: str) -> None:
    assert _unknown_to_grafana(_board(name)) == []


def test_a_dashboard_grafana_would_not_read_is_caught() -> None:
    broken = _board("operations.json")
    broken["panels"][0]["gridpos"] = broken["panels"][0].pop("gridPos")  # a misspelt key
    broken["panels"][1]["type"] = "timeseriess"
    broken["panels"][2]["fieldConfig"]["defaults"]["units"] = "s"
    assert _unknown_to_grafana(broken) == [
        "panel 2: no 'timeseriess' panel",
        ".panels[0].gridpos",
        ".panels[2].fieldConfig.defaults.units",
    ]


# Counters and histograms are summed over replicas; gauges that every replica measures alike (the outbox, lag,
# the broker probe) or that one computes for all (shared.metrics.JobGauges) are deduplicated with max or min.
def _kind(metric: str) -> str:
    if metric == "up":
        return "up"
    if metric.endswith(("_total", "_bucket", "_count", "_sum")):
        return "counter"
    return "gauge"


@pytest.mark.parametrize("name", ["operations.json", "revenue.json"])
def test_every_expression_stays_true_with_several_replicas(name: str) -> None:
    for expr in _expressions(_board(name)):
        for metric in METRIC.findall(expr):
            kind = _kind(metric)
            if kind == "counter":
                assert re.search(rf"sum by \([^)]*\) \((rate|increase)\({metric}\b", expr) or re.search(
                    rf"sum\((rate|increase)\({metric}\b", expr
                ), f"{metric} must be summed over replicas: {expr}"
            elif kind == "gauge":
                assert re.search(rf"(max|min)( by \([^)]*\))? ?\({metric}\b", expr), f"{metric} must be max/min: {expr}"
            else:
                assert expr.startswith("sum by (service) (up{"), expr


def test_operations_filters_by_service_instance_and_provider() -> None:
    board = _board("operations.json")
    assert [v["name"] for v in board["templating"]["list"]] == ["service", "instance", "provider"]
    for expr in _expressions(board):
        for selector in re.findall(r"\b(?:leadflow_[a-z0-9_]+|up)\{([^}]*)\}", expr):
            assert 'service=~"$service"' in selector and 'instance=~"$instance"' in selector, expr
        if "webhook" in expr or "captured" in expr or "quarantined" in expr:
            assert 'provider=~"$provider"' in expr, expr
    titles = {panel["title"] for panel in board["panels"]}
    assert {"Freshness: capture to decision, p50 / p99", "Freshness error budget left (30 days)"} <= titles
    assert "Webhook deliveries quarantined" in titles


def test_money_is_shown_in_the_currency_the_series_is_in() -> None:
    board = _board("revenue.json")
    assert [v["name"] for v in board["templating"]["list"]] == ["currency"]
    for panel in board["panels"]:
        exprs = [t["expr"] for t in panel["targets"]]
        if not any("leadflow_forecast_amount" in e for e in exprs):
            continue
        assert all('currency=~"$currency"' in e for e in exprs), panel["title"]
        assert not panel["fieldConfig"]["defaults"]["unit"].startswith("currency"), panel["title"]
        units = {o["matcher"]["options"]: o["properties"][0]["value"] for o in panel["fieldConfig"]["overrides"]}
        assert units[".*\\bEUR\\b.*"] == "currencyEUR" and units[".*\\bUSD\\b.*"] == "currencyUSD", panel["title"]
