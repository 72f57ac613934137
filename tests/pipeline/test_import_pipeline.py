"""The real X Education export through `leadflow import`, end to end: every lead scored, every outcome kept."""

import os
import subprocess
import sys
import time
from pathlib import Path

from services.embedded.dev import EmbeddedPipeline
from tests.pipeline.driving import scalar
from tests.support import ADMIN_TOKEN, shared_data, wait_until

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "deploy" / "imports" / "xeducation.yaml"


def run_import(pipeline: EmbeddedPipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "import",
            str(shared_data("xeducation/leads.csv")),
            "--mapping",
            str(MAPPING),
            "--url",
            pipeline.processes["intake"].url,
        ],
        env=dict(os.environ) | {"LEADFLOW_API_TOKEN": ADMIN_TOKEN},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_xeducation_import_reaches_every_service_once(pipeline: EmbeddedPipeline, module_database_url: str) -> None:
    started = time.monotonic()
    first = run_import(pipeline)
    imported_in = time.monotonic() - started
    assert first.returncode == 0, first.stderr[-2000:]
    assert "done: 9240 imported, 0 already there, 0 failed" in first.stdout, first.stdout
    wait_until(
        lambda: scalar(module_database_url, "scorer", "SELECT count(*) FROM outcomes") == 9240 or None,
        timeout_s=300,
        interval_s=1,
        what="every outcome at the scorer",
    )
    wait_until(
        lambda: scalar(module_database_url, "scorer", "SELECT count(*) FROM profiles") == 9240 or None,
        timeout_s=300,
        interval_s=1,
        what="every lead scored",
    )
    wait_until(
        lambda: scalar(module_database_url, "qualifier", "SELECT count(*) FROM leads") == 9240 or None,
        timeout_s=300,
        interval_s=1,
        what="every lead staged",
    )
    processed_in = time.monotonic() - started
    won = scalar(module_database_url, "scorer", "SELECT count(*) FROM outcomes WHERE outcome = 'won'")
    assert won == 3561  # 38.5 % of 9,240, as the data set's README says

    again = run_import(pipeline)
    assert "done: 0 imported, 9240 already there, 0 failed" in again.stdout, again.stdout
    assert scalar(module_database_url, "intake", "SELECT count(*) FROM leads") == 9240
    assert (
        scalar(module_database_url, "intake", "SELECT count(*) FROM outbox WHERE event_type LIKE '%captured%'") == 9240
    )
    print(f"xeducation: imported in {imported_in:.1f} s, scored and staged in {processed_in:.1f} s")
