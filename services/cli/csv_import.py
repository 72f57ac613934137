"""The `leadflow import` client: upload to the running intake, follow the progress, report row errors."""

import csv
import time
from pathlib import Path

import httpx
import typer


def upload_and_follow(file: Path, mapping: Path, url: str, token: str | None, *, timeout_s: float = 3600) -> int:
    """Upload, show progress until done or `timeout_s`, write FILE.errors.csv when rows failed; the exit code
    (2 when it is still running: the import goes on in intake, and resumes there after a restart)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=url, headers=headers, timeout=min(120.0, timeout_s)) as client:
        with file.open("rb") as data:
            response = client.post(
                "/v1/imports", files={"file": (file.name, data, "text/csv")}, data={"mapping": mapping.read_text()}
            )
        if response.status_code != 202:
            typer.echo(f"import refused ({response.status_code}): {_detail(response)}", err=True)
            return 1
        job = response.json()
        with typer.progressbar(length=job["total"], label=f"importing {file.name}") as bar:
            done = 0
            while True:
                job = client.get(f"/v1/imports/{job['import_id']}").json()
                bar.update(job["processed"] - done)
                done = job["processed"]
                if job["status"] not in ("staging", "running"):
                    break
                if time.monotonic() > deadline:
                    typer.echo(
                        f"\nstill running after {timeout_s:.0f} s ({job['processed']} of {job['total']} rows); it goes "
                        f"on in intake: GET {url}/v1/imports/{job['import_id']}",
                        err=True,
                    )
                    return 2
                time.sleep(0.5)
    typer.echo(
        f"{job['status']}: {job['accepted']} imported, {job['duplicates']} already there, {job['failed']} failed "
        f"(import {job['import_id']})"
    )
    if job["errors"]:
        report = file.with_suffix(".errors.csv")
        with report.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=["row", "error"])
            writer.writeheader()
            writer.writerows(job["errors"])
        typer.echo(f"row errors written to {report}")
    return 0 if job["status"] == "done" else 1


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:500]
