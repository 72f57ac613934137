"""The compose file and image do what the README promises, checked without a Docker engine."""

import re
import subprocess
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
    assert services["migrate"]["command"] == ["migrate", "--roles"]


def test_each_service_connects_as_its_own_role() -> None:
    services = compose()["services"]
    for name in SERVICE_NAMES:
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://leadflow_{name}:"), name
        assert f"LEADFLOW_DB_ROLE_PASSWORD_{name.upper()}" in services["migrate"]["environment"]
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://leadflow:")


def test_kafka_runs_in_kraft_mode() -> None:
    env = compose()["services"]["kafka"]["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert not any("ZOOKEEPER" in key for key in env)


def test_kafka_keeps_its_log_on_its_volume() -> None:
    kafka = compose()["services"]["kafka"]
    mounted = {volume.split(":", 1)[1] for volume in kafka["volumes"]}
    assert kafka["environment"]["KAFKA_LOG_DIRS"] in mounted


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


def test_compose_file_follows_the_compose_specification() -> None:
    from compose_pydantic.models import ComposeSpecification

    document = compose()
    # The spec allows top-level `x-` extension fields (we keep YAML anchors there); the generated models do not.
    # They also predate secrets sourced from `environment` (docs.docker.com/reference/compose-file/secrets,
    # "Example 2"): those are checked here and given to the models as the `file` source they know.
    secrets = document.get("secrets", {})
    assert all(set(s) == {"environment"} and s["environment"].startswith("LEADFLOW_") for s in secrets.values())
    known = document | {"secrets": {name: {"file": f"./{name}"} for name in secrets}}
    spec = ComposeSpecification.model_validate({k: v for k, v in known.items() if not k.startswith("x-")})
    assert set(spec.services or {}) >= set(SERVICE_NAMES)


PROMETHEUS = ROOT / "deploy" / "prometheus"


def _promtool(*args: str) -> str:
    result = subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_prometheus_config_and_rules_are_valid() -> None:
    # --syntax-only: the scrape's bearer credential file exists only inside the compose container.
    assert "SUCCESS" in _promtool("check", "config", "--syntax-only", "prometheus.yml")
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"][0]
    secret = scrape["authorization"]["credentials_file"].rpartition("/")[2]
    assert secret in compose()["services"]["prometheus"]["secrets"]
    assert compose()["secrets"][secret] == {"environment": "LEADFLOW_METRICS_TOKEN"}
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    held = sum(len(group["rules"]) for group in rules["groups"])
    assert f"{held} rules found" in _promtool("check", "rules", "alerts.yml")


def test_alertmanager_receives_what_prometheus_fires_and_its_config_is_valid() -> None:
    result = subprocess.run(
        ["amtool", "check-config", "alertmanager.yml"],
        cwd=ROOT / "deploy/alertmanager",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    config = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    assert config["route"]["routes"][0] == {
        "matchers": ['severity="critical"'],
        "receiver": "page",
        "repeat_interval": "1h",
    }
    assert {r["name"] for r in config["receivers"]} == {"page", "ticket"}
    prometheus = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    service = compose()["services"]["alertmanager"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in service["volumes"]
    secret = config["receivers"][0]["slack_configs"][0]["api_url_file"].rpartition("/")[2]
    assert secret in service["secrets"]
    assert compose()["secrets"][secret] == {"environment": "LEADFLOW_ALERT_WEBHOOK_URL"}
    assert compose()["services"]["prometheus"]["depends_on"]["alertmanager"] == {"condition": "service_healthy"}


def test_alert_rules_fire_when_and_only_when_they_should() -> None:
    assert "SUCCESS" in _promtool("test", "rules", "tests/alerts_test.yml")


def test_every_alert_says_what_it_means_and_links_its_runbook() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    runbooks = (ROOT / "docs/runbooks.md").read_text()
    sections = {line[3:].strip().lower() for line in runbooks.splitlines() if line.startswith("## ")}
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    assert len(alerts) >= 13
    for rule in alerts:
        notes = rule["annotations"]
        assert notes.get("summary") and notes.get("description"), rule["alert"]
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == "docs/runbooks.md" and anchor == rule["alert"].lower() and anchor in sections, rule["alert"]


def test_every_alert_has_a_promtool_test_that_makes_it_fire() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    cases = yaml.safe_load((PROMETHEUS / "tests/alerts_test.yml").read_text())["tests"]
    fired = {check["alertname"] for case in cases for check in case["alert_rule_test"] if check["exp_alerts"]}
    assert alerts - fired == set(), "every alert needs a test of the failure it is named for"
