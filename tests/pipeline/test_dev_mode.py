"""`leadflow dev`, the README's first command, as a user runs it: up, serving, and gone on SIGTERM."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.embedded.broker import free_port
from tests.support import lead_payload, signed_webhook, wait_until


def test_dev_starts_everything_serves_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    env["LEADFLOW_API_TOKEN"] = "dev-mode-test-token-0123456789"
    env.pop("LEADFLOW_WEBHOOK_SECRET_GENERIC", None)
    output = tmp_path / "dev.out"
    started = time.monotonic()
    with output.open("wb") as sink:
        dev = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "dev",
                "--workdir",
                str(tmp_path / "work"),
                "--port-base",
                str(free_port()),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:

        def banner_text() -> str | None:
            text = output.read_text()
            return text if "leadflow is up" in text else None

        banner = wait_until(banner_text, timeout_s=90, what="the banner")
        up_after = time.monotonic() - started
        urls = dict(re.findall(r"^\s+(intake|scorer|qualifier|forecast)\s+(http://\S+)", banner, flags=re.MULTILINE))
        assert set(urls) == {"intake", "scorer", "qualifier", "forecast"}
        for url in urls.values():
            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        assert "export LEADFLOW_API_TOKEN=dev-mode-test-token-0123456789" in banner
        assert "from LEADFLOW_API_TOKEN" in banner
        secret = re.search(r"LEADFLOW_WEBHOOK_SECRET_GENERIC=(whsec_\S+)", banner)
        assert secret, banner
        body, headers = signed_webhook(lead_payload(), secret=secret.group(1))
        accepted = httpx.post(f"{urls['intake']}/v1/webhooks/generic", content=body, headers=headers, timeout=10)
        assert accepted.status_code == 202
        assert list((tmp_path / "work" / "data").glob("*.db")), "a SQLite file per service"
        print(f"dev mode ready in {up_after:.1f} s")
    finally:
        dev.send_signal(signal.SIGTERM)
        code = dev.wait(timeout=60)
    assert code == 0, output.read_text()[-2000:]
    assert "stopped." in output.read_text()
    for url in urls.values():
        try:
            httpx.get(f"{url}/healthz", timeout=1)
        except httpx.TransportError:
            continue
        raise AssertionError(f"{url} still answers after SIGTERM")
