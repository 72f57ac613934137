"""The compose file and image do what the README promises, checked without a Docker engine."""

import re
from pathlib import Path
from typing import Any

import yaml

from services.registry import SERVICE_NAMES, service

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_services_wait_for_healthy_infrastructure_and_migrations() -> None:
    services = compose()["services"]
    for name in SERVICE_NAMES:
        deps = services[name]["depends_on"]
        assert deps["kafka"]["condition"] == "service_healthy"
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    for name in ("kafka", "postgres", "prometheus", "grafana"):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["command"] == ["migrate"]


def test_kafka_runs_in_kraft_mode() -> None:
    env = compose()["services"]["kafka"]["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert not any("ZOOKEEPER" in key for key in env)


def test_no_secret_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for key in ("POSTGRES_PASSWORD", "LEADFLOW_API_TOKEN", "LEADFLOW_WEBHOOK_SECRET_GENERIC", "GRAFANA_ADMIN_PASSWORD"):
        uses = re.findall(rf"\$\{{{key}([^}}]*)\}}", text)
        assert uses, key
        assert all(use.startswith(":?") for use in uses), f"{key} must be required, not defaulted: {uses}"


def test_each_service_listens_where_prometheus_scrapes() -> None:
    services = compose()["services"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in scrape["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    for name in SERVICE_NAMES:
        port = service(name).port
        assert f"{name}:{port}" in targets
        assert services[name]["command"][-1] == str(port)


def test_image_runs_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, flags=re.MULTILINE)
