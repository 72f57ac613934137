"""Faults under load: PostgreSQL restarted while leads stream in; nothing lost, nothing doubled."""

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from services.embedded.dev import EmbeddedPipeline
from shared.ids import lead_id_for
from tests.pipeline.driving import url
from tests.pipeline.test_pipeline import scalar
from tests.support import lead_payload, signed_webhook, wait_until


def restart_postgres() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120)


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")) or not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").exists(),
    reason="restarting PostgreSQL needs the local cluster",
)
@pytest.mark.faults
def test_postgres_restart_mid_stream_loses_and_doubles_nothing(
    pipeline: EmbeddedPipeline, module_database_url: str
) -> None:
    total = 2000
    emails = [f"fault.{i}.{os.getpid()}@pg-restart-{i % 5}.com" for i in range(total)]
    sent = 0
    refused: list[int] = []

    def send_all() -> None:
        nonlocal sent
        with httpx.Client(timeout=10) as client:
            for email in emails:
                body, headers = signed_webhook(lead_payload(email))
                for _ in range(120):  # like a provider, retry until accepted
                    try:
                        response = client.post(
                            f"{url(pipeline, 'intake')}/v1/webhooks/generic", content=body, headers=headers
                        )
                    except httpx.HTTPError:
                        time.sleep(0.25)
                        continue
                    if response.status_code == 202:
                        break
                    refused.append(response.status_code)
                    time.sleep(0.25)
                sent += 1

    sender = threading.Thread(target=send_all)
    sender.start()
    wait_until(lambda: sent >= total // 3, what="a third of the stream")
    restart_postgres()
    sender.join(timeout=300)
    assert sent == total
    assert set(refused) <= {503}, refused  # the outage showed as 503 with Retry-After, never as 500
    ids = ", ".join(f"'{lead_id_for(e)}'" for e in emails)
    for schema, table in (("intake", "leads"), ("scorer", "profiles"), ("qualifier", "leads")):
        wait_until(
            lambda: (
                scalar(module_database_url, schema, f"SELECT count(*) FROM {table} WHERE lead_id IN ({ids})")  # noqa: B023
                == total
                or None
            ),
            timeout_s=180,
            interval_s=1,
            what=f"all leads in {schema}.{table}",
        )
    assert scalar(module_database_url, "scorer", f"SELECT count(*) FROM activities WHERE lead_id IN ({ids})") == total
    assert scalar(module_database_url, "intake", f"SELECT count(*) FROM outbox WHERE key IN ({ids})") == total
    assert (
        scalar(
            module_database_url,
            "qualifier",
            f"SELECT count(*) FROM transitions WHERE from_stage IS NULL AND lead_id IN ({ids})",
        )
        == total
    )
    for process in pipeline.processes.values():
        assert process.running(), f"{process.name} did not survive the database restart"
    print(f"postgres restart: {len(refused)} deliveries refused with 503 and retried")
