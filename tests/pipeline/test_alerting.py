"""Alerts reach someone: the real Prometheus and Alertmanager around a running pipeline, then the pipeline breaks.

The broker stops and a consumer stops, as in an outage. The alerts named for those failures must arrive at the
on-call channel's webhook, through deploy/alertmanager/alertmanager.yml as shipped, within the rule's `for:`
plus Alertmanager's `group_wait` plus a few scrape and evaluation intervals (one second each here).
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from services.embedded.broker import EmbeddedBroker, free_port
from services.embedded.dev import EmbeddedPipeline, Printer
from services.registry import SERVICE_NAMES
from tests.pipeline import monitoring
from tests.support import ADMIN_TOKEN, GENERIC_SECRET, wait_until

ROOT = Path(__file__).resolve().parents[2]
# Scrape (1 s) + evaluation (1 s) + the services' broker probe (1 s) + Alertmanager's dispatch, with room for a
# machine busy starting things.
_SLACK_S = 15.0


def _rule(name: str) -> dict[str, str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


def _group_wait() -> float:
    return _seconds(yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())["route"]["group_wait"])


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("stopping the broker needs the embedded one; KAFKA_BOOTSTRAP_SERVERS is set")
    with EmbeddedBroker(free_port()) as running:
        yield running


@pytest.fixture
def pipeline(module_database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[EmbeddedPipeline]:
    env = dict(os.environ) | {
        "DATABASE_URL": module_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "LEADFLOW_API_TOKEN": ADMIN_TOKEN,
        "LEADFLOW_WEBHOOK_SECRET_GENERIC": GENERIC_SECRET,
        "LEADFLOW_GAUGE_REFRESH_S": "1",
        "LEADFLOW_LAG_INTERVAL_S": "1",
    }
    running = EmbeddedPipeline(tmp_path / "pipeline", port_base=free_port(), env=env)
    try:
        running.start(log=Printer())
        yield running
    finally:
        running.stop()


def test_a_broker_outage_and_a_stopped_consumer_page_the_on_call_channel(
    pipeline: EmbeddedPipeline, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    with (
        monitoring.webhook_receiver() as channel,
        monitoring.alertmanager(tmp_path / "alertmanager", channel.url) as alertmanager,
        monitoring.prometheus(pipeline, tmp_path / "prometheus", alertmanager=alertmanager) as prometheus,
    ):
        wait_until(
            lambda: len(monitoring.healthy_targets(prometheus)) == len(SERVICE_NAMES), what="every service healthy"
        )
        time.sleep(5)  # a few healthy scrapes and evaluations first, as in life
        assert not channel.received, "nothing is broken yet, nothing may be sent"

        broken_at = time.monotonic()
        broker.stop()
        pipeline.processes["forecast"].stop()

        outage = _seconds(_rule("LeadflowBrokerUnreachable")["for"]) + _group_wait() + _SLACK_S
        paged = wait_until(
            lambda: channel.titled("FIRING: LeadflowBrokerUnreachable (critical)"),
            timeout_s=outage,
            interval_s=0.5,
            what="the broker outage in the on-call channel",
        )
        assert paged[0].at - broken_at <= outage
        text = paged[0].body["attachments"][0]["text"]
        assert "cannot reach the Kafka broker" in text
        assert "Runbook: docs/runbooks.md#leadflowbrokerunreachable" in text
        assert paged[0].body["channel"] == "#leadflow-oncall"

        down = _seconds(_rule("LeadflowServiceDown")["for"]) + _group_wait() + _SLACK_S
        stopped = wait_until(
            lambda: channel.titled("FIRING: LeadflowServiceDown (critical)"),
            timeout_s=max(1.0, down - (time.monotonic() - broken_at)),
            interval_s=0.5,
            what="the stopped consumer in the on-call channel",
        )
        assert stopped[0].at - broken_at <= down
        assert "forecast is not answering /metrics" in stopped[0].body["attachments"][0]["text"]
        # The services still up keep answering /metrics: only forecast is reported down.
        assert all("intake is not" not in m.body["attachments"][0]["text"] for m in stopped)
        print(  # the figures for the record (pytest -s)
            f"broker outage paged after {paged[0].at - broken_at:.1f} s (bound {outage:.0f} s), "
            f"stopped consumer after {stopped[0].at - broken_at:.1f} s (bound {down:.0f} s)"
        )
