"""A delivery the mapping cannot read waits in quarantine, and becomes a lead downstream once the mapping is fixed."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from services.embedded.broker import free_port
from services.embedded.dev import EmbeddedPipeline, Printer
from services.rules import DEFAULT_RULES
from shared.ids import lead_id_for
from tests.pipeline.driving import get_json, url
from tests.support import ADMIN_TOKEN, bearer, wait_until
from tests.webhook_senders import SECRETS, fixture, signed


@pytest.fixture(scope="module")
def running(
    module_database_url: str, private_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EmbeddedPipeline, dict[str, str]]]:
    env = dict(os.environ) | {
        "DATABASE_URL": module_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": private_broker,
        "LEADFLOW_API_TOKEN": ADMIN_TOKEN,
        "LEADFLOW_WEBHOOK_SECRET_TYPEFORM": SECRETS["typeform"],
    }
    pipeline = EmbeddedPipeline(tmp_path_factory.mktemp("quarantine"), port_base=free_port(), env=env)
    try:
        pipeline.start(log=Printer())
        yield pipeline, env
    finally:
        pipeline.stop()


def test_a_quarantined_delivery_replays_into_a_lead_after_the_mapping_is_fixed(
    running: tuple[EmbeddedPipeline, dict[str, str]], tmp_path: Path
) -> None:
    pipeline, env = running
    email = "sam.okoro@harbourline-shipping.com"
    payload = fixture("typeform")
    payload["event_id"] = "01JEQUARANTINEREPLAY00001"
    response = payload["form_response"]
    # This form asks for the address under a question the label mapping does not know.
    response["definition"]["fields"][0] |= {"ref": "report_to", "type": "short_text", "title": "Send the report to"}
    response["answers"][0] = {
        "type": "text",
        "text": email,
        "field": {"id": "Yx1a", "type": "short_text", "ref": "report_to"},
    }
    body, headers, _ = signed("typeform", payload)
    answered = httpx.post(f"{url(pipeline, 'intake')}/v1/webhooks/typeform", content=body, headers=headers, timeout=10)
    assert answered.status_code == 202, answered.text
    assert answered.json()["quarantined"] is True and "no email" in answered.json()["reason"]
    held = get_json(f"{url(pipeline, 'intake')}/v1/quarantine")
    assert [(h["provider"], h["kind"]) for h in held] == [("typeform", "no_email")]

    # The fix: this form's question `report_to` is the email (the per-form override, by the question's ref).
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["intake"]["forms"] = {"typeform:lT9Z2j": {"report_to": "email"}}
    fixed = tmp_path / "rules.yaml"
    fixed.write_text(yaml.safe_dump(rules))
    replay = subprocess.run(
        [sys.executable, "-m", "services.cli", "quarantine", "replay", "--mapping", str(fixed)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr[-2000:]
    lead_id = str(lead_id_for(email))
    assert f"replayed lead {lead_id}" in " ".join(replay.stdout.split()) and "1 of 1 replayed" in replay.stdout

    lead = wait_until(
        lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), timeout_s=60, what="the lead downstream"
    )
    assert lead["stage"] in {"lead", "mql"} and lead["history"][0]["to_stage"] == "lead"
    again = httpx.post(f"{url(pipeline, 'intake')}/v1/quarantine/replay", json={}, headers=bearer(), timeout=10)
    assert again.json() == []  # replayed once: nothing is held any more
    listed = get_json(f"{url(pipeline, 'intake')}/v1/quarantine?status=all")
    assert [(h["status"], h["lead_id"]) for h in listed] == [("replayed", lead_id)]
