"""`leadflow dev`, the README's first command, as a user runs it: up, serving, and gone on SIGTERM."""

import os
import re
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import httpx

from services.embedded.broker import free_port
from services.embedded.dev import EmbeddedPipeline
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
        names = "intake|scorer|qualifier|forecast|notifier|console"
        urls = dict(re.findall(rf"^\s+({names})\s+(http://\S+)", banner, flags=re.MULTILINE))
        assert set(urls) == {"intake", "scorer", "qualifier", "forecast", "notifier", "console"}
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


def test_a_restart_on_a_fresh_broker_delivers_what_was_not_consumed_once(tmp_path: Path) -> None:
    """The embedded broker forgets everything; the SQLite files do not. Events intake published while the qualifier
    was down reach it after a restart, and what was consumed already is not applied twice."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    env["LEADFLOW_API_TOKEN"] = "dev-mode-test-token-0123456789"
    workdir = tmp_path / "work"
    lines: list[str] = []
    first = EmbeddedPipeline(workdir, free_port(), env)
    try:
        first.start(log=lines.append)
        secret = first.credentials.webhook_secrets["generic"]
        intake = first.processes["intake"].url
        early = _post_leads(intake, secret, 3)
        _wait_for_leads(first.processes["qualifier"].url, early)
        first.processes["qualifier"].kill()  # stopped mid-stream: what follows is published, never consumed
        late = _post_leads(intake, secret, 5)
        _wait_for_scores(first.processes["scorer"].url, late)  # published for sure: the scorer has them
    finally:
        first.stop()
    second = EmbeddedPipeline(workdir, free_port(), env)
    try:
        second.start(log=lines.append)
        histories = _wait_for_leads(second.processes["qualifier"].url, early + late)
        for lead_id, history in histories.items():
            assert [h["to_stage"] for h in history].count("lead") == 1, (lead_id, history)
        assert any("queued again" in line for line in lines), lines
    finally:
        second.stop()


def _post_leads(intake: str, secret: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        body, headers = signed_webhook(lead_payload(), secret=secret)
        response = httpx.post(f"{intake}/v1/webhooks/generic", content=body, headers=headers, timeout=10)
        assert response.status_code == 202, response.text
        ids.append(response.json()["lead_id"])
    return ids


def _auth() -> dict[str, str]:
    return {"authorization": "Bearer dev-mode-test-token-0123456789"}


def _wait_for_scores(scorer: str, lead_ids: list[str]) -> None:
    def scored(lead_id: str) -> bool:
        return httpx.get(f"{scorer}/v1/scores/{lead_id}", headers=_auth()).status_code == 200

    for lead_id in lead_ids:
        wait_until(partial(scored, lead_id), timeout_s=60, what=f"the score of {lead_id}")


def _wait_for_leads(qualifier: str, lead_ids: list[str]) -> dict[str, list[dict[str, object]]]:
    def lead(lead_id: str) -> httpx.Response | None:
        response = httpx.get(f"{qualifier}/v1/leads/{lead_id}", headers=_auth())
        return response if response.status_code == 200 else None

    found = {}
    for lead_id in lead_ids:
        response = wait_until(partial(lead, lead_id), timeout_s=60, what=f"the qualifier to know {lead_id}")
        found[lead_id] = response.json()["history"]
    return found


def test_the_demo_runs_on_a_fresh_and_on_a_used_workdir_and_ends_on_a_hot_leads_page(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    env["LEADFLOW_API_TOKEN"] = "demo-test-token-0123456789abcdef"
    workdir = tmp_path / "work"
    pages = []
    for run in ("fresh", "used"):
        output = tmp_path / f"demo-{run}.out"
        with output.open("wb") as sink:
            demo = subprocess.Popen(
                [*DEMO, "--workdir", str(workdir), "--port-base", str(free_port())],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            page_line = partial(_line, output, r"demo: (.+)'s page: (http://\S+/leads/[0-9a-f-]{36})")
            name, url = wait_until(page_line, timeout_s=150, what=f"the demo's last line ({run} workdir)")
            console = re.search(r"demo: the console is at (http://\S+)", output.read_text())
            assert console and url.startswith(console.group(1)), output.read_text()
            signed_in = httpx.post(
                f"{console.group(1)}/login",
                data={"token": env["LEADFLOW_API_TOKEN"], "next": url[len(console.group(1)) :]},
            )
            cookie = {"cookie": signed_in.headers["set-cookie"].split(";")[0]}
            page = httpx.get(url, headers=cookie, timeout=10)
            assert page.status_code == 200 and name in page.text and 'class="segment hot"' in page.text
            pages.append(url.rsplit("/", 1)[1])
        finally:
            demo.send_signal(signal.SIGTERM)
            code = demo.wait(timeout=60)
        assert code == 0, output.read_text()[-3000:]
    if pages[0] == pages[1]:  # the same lead is the best again: its deal is not won twice
        assert "since an earlier run" in (tmp_path / "demo-used.out").read_text()


DEMO = [sys.executable, "-m", "services.cli", "dev", "--demo"]


def _line(output: Path, pattern: str) -> tuple[str, str] | None:
    found = re.search(pattern, output.read_text())
    return (found.group(1), found.group(2)) if found else None
