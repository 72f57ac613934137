"""The real Prometheus and Alertmanager (Debian's packages, scripts/ensure-tools.sh) around a running pipeline."""

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from services.embedded.broker import free_port
from services.embedded.dev import EmbeddedPipeline
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(f"{names[0]} is installed by scripts/ensure-tools.sh (make tools)")


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def healthy_targets(base: str) -> list[dict[str, Any]]:
    """The scrape targets Prometheus last scraped successfully."""
    targets: list[dict[str, Any]] = httpx.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return [t for t in targets if t["health"] == "up"]


@contextmanager
def _server(command: list[str], base: str, log: Path) -> Iterator[str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        wait_until(lambda: ready(base), timeout_s=60, what=f"{Path(command[0]).name} ready (log: {log})")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def prometheus(pipeline: EmbeddedPipeline, workdir: Path, *, alertmanager: str | None = None) -> Iterator[str]:
    """Prometheus with leadflow's alert rules, scraping every service of `pipeline` (and evaluating) every second,
    labelled as the compose Prometheus labels them; sending to `alertmanager` when given."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy/prometheus/alerts.yml", workdir / "alerts.yml")
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {
                "job_name": "leadflow",
                "static_configs": [
                    {"targets": [p.url.removeprefix("http://")], "labels": {"service": name}}
                    for name, p in pipeline.processes.items()
                ],
            }
        ],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.split("//")[1]]}]}]}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        _binary("prometheus"),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with _server(command, f"http://127.0.0.1:{port}", workdir / "prometheus.log") as base:
        yield base


@contextmanager
def alertmanager(workdir: Path, receiver_url: str) -> Iterator[str]:
    """Alertmanager with deploy/alertmanager/alertmanager.yml as shipped; only the file its receivers read the
    webhook URL from (a secret in compose) holds `receiver_url`."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "webhook_url").write_text(receiver_url)
    text = (ROOT / "deploy/alertmanager/alertmanager.yml").read_text()
    shipped = "/run/secrets/alertmanager_slack_url"
    assert shipped in text
    (workdir / "alertmanager.yml").write_text(text.replace(shipped, str(workdir / "webhook_url")))
    port = free_port()
    command = [
        _binary("prometheus-alertmanager", "alertmanager"),
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # one instance: no gossip port
    ]
    with _server(command, f"http://127.0.0.1:{port}", workdir / "alertmanager.log") as base:
        yield base


@dataclass
class Received:
    """One message a receiver got: when, and the Slack-compatible body Alertmanager posted."""

    at: float
    body: dict[str, Any]

    @property
    def titles(self) -> list[str]:
        return [attachment.get("title", "") for attachment in self.body.get("attachments", [])]


@dataclass
class WebhookReceiver:
    """A chat channel's incoming webhook, as far as Alertmanager can tell: it takes JSON posts and answers 200."""

    url: str
    received: list[Received] = field(default_factory=list)

    def titled(self, fragment: str) -> list[Received]:
        return [message for message in list(self.received) if any(fragment in t for t in message.titles)]


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    port = free_port()
    receiver = WebhookReceiver(f"http://127.0.0.1:{port}/hooks/oncall")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.received.append(Received(time.monotonic(), json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
