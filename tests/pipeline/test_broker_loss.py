"""The embedded broker lost entirely (Tansu keeps nothing) while leads stream in; `leadflow replay` recovers."""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from services.embedded.broker import EmbeddedBroker, free_port
from services.embedded.dev import EmbeddedPipeline, Printer
from shared.messaging.kafka_options import TopicShape
from tests.pipeline.driving import assert_each_lead_once, url
from tests.support import ADMIN_TOKEN, GENERIC_SECRET, lead_payload, signed_webhook, wait_until


@pytest.fixture(scope="module")
def lossy(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EmbeddedPipeline, EmbeddedBroker]]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("losing the broker needs the embedded one")
    workdir = tmp_path_factory.mktemp("lossy")
    # The broker comes back with leadflow's topics made before anyone writes (EmbeddedBroker._make_topics says why);
    # its log is kept with the services' logs.
    broker = EmbeddedBroker(free_port(), log_file=workdir / "logs" / "broker.log", topics=TopicShape())
    broker.start()
    env = dict(os.environ) | {
        "DATABASE_URL": module_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "LEADFLOW_API_TOKEN": ADMIN_TOKEN,
        "LEADFLOW_WEBHOOK_SECRET_GENERIC": GENERIC_SECRET,
    }
    running = EmbeddedPipeline(workdir, port_base=free_port(), env=env)
    try:
        running.start(log=Printer())
        yield running, broker
    finally:
        running.stop()
        broker.stop()


@pytest.mark.faults
def test_total_broker_loss_is_recovered_by_replay(
    lossy: tuple[EmbeddedPipeline, EmbeddedBroker], module_database_url: str
) -> None:
    pipeline, broker = lossy
    total = 2000
    emails = [f"loss.{i}.{os.getpid()}@broker-loss-{i % 3}.com" for i in range(total)]
    sent = 0
    statuses: list[int] = []

    def send_all() -> None:
        nonlocal sent
        with httpx.Client(timeout=10) as client:
            for email in emails:
                body, headers = signed_webhook(lead_payload(email))
                response = client.post(f"{url(pipeline, 'intake')}/v1/webhooks/generic", content=body, headers=headers)
                statuses.append(response.status_code)
                sent += 1

    sender = threading.Thread(target=send_all)
    sender.start()
    wait_until(lambda: sent >= total // 3, what="a third of the stream")
    broker.stop()  # every topic, message and committed offset is gone
    # The runbook: stop the consumers while the broker is away, so that no session from before the loss
    # commits its old offsets into the new, empty broker; start them once it is back; then replay.
    consumers = [pipeline.processes[name] for name in ("scorer", "qualifier", "forecast")]
    for process in consumers:
        process.stop()
    wait_until(lambda: sent >= total * 2 // 3, what="two thirds, sent while there is no broker")
    broker.start()  # the same address, empty
    for process in consumers:
        process.start()
    for process in consumers:
        process.wait_ready()
    sender.join(timeout=120)
    assert statuses == [202] * total  # intake never needed the broker to accept a lead

    env = dict(os.environ) | {"DATABASE_URL": module_database_url, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    for service in ("intake", "scorer", "qualifier"):
        replay = subprocess.run(
            [sys.executable, "-m", "services.cli", "replay", service],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert replay.returncode == 0, replay.stderr[-1000:]

    # Replayed events that were applied before the loss are skipped by the inboxes: nothing counted twice.
    assert_each_lead_once(module_database_url, emails)
