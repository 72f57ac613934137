"""Helpers shared by the test tiers: credentials, signing, and polling."""

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from services.intake.domain.standard_webhooks import sign

T = TypeVar("T")

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
# LEADFLOW_API_TOKENS as an operator writes it: the name is who acts in the audit trail.
SCOPED_TOKENS: dict[str, dict[str, Any]] = {
    "dashboard": {"token": "test-leads-read-0123456789abcdef", "scopes": ["leads:read"]},
    "sam.rep": {"token": "test-leads-write-0123456789abcdef", "scopes": ["leads:write"]},
    "deal-desk": {"token": "test-opps-write-0123456789abcdef", "scopes": ["opportunities:write"]},
    "finance": {"token": "test-forecast-read-0123456789abcdef", "scopes": ["forecast:read"]},
    "crm-sync": {
        "token": "test-crm-sync-0123456789abcdef",
        "scopes": ["leads:write", "opportunities:write"],
        "integration": True,
    },
}
GENERIC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def token_with(scope: str) -> str:
    """A test token granting exactly `scope`."""
    return next(str(t["token"]) for t in SCOPED_TOKENS.values() if t["scopes"] == [scope])


def token_named(name: str) -> str:
    """The secret of the test token called `name`."""
    return str(SCOPED_TOKENS[name]["token"])


def bearer(token: str = ADMIN_TOKEN) -> dict[str, str]:
    """Authorization header for a token."""
    return {"authorization": f"Bearer {token}"}


def lead_payload(email: str | None = None, **fields: Any) -> dict[str, Any]:
    """A realistic lead in leadflow's shape, unique unless an email is given."""
    return {
        "email": email or f"pat.{uuid.uuid4().hex[:10]}@acme-industries.com",
        "first_name": "Pat",
        "last_name": "Lee",
        "job_title": "VP of Engineering",
        "company": "Acme Industries",
        "country": "US",
        **fields,
    }


def signed_webhook(
    data: dict[str, Any],
    *,
    secret: str = GENERIC_SECRET,
    webhook_id: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks delivery: the body and its headers."""
    body = json.dumps({"type": "lead.submitted", "data": data}).encode()
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return body, {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": ts,
        "webhook-signature": sign(secret, webhook_id, ts, body),
    }


def wait_until(probe: Callable[[], T | None], *, timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "") -> T:
    """Poll until `probe` returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what or 'condition'}; last value {last!r}")


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 30.0, what: str = "") -> T:
    """Async twin of wait_until."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what or 'condition'}; last value {last!r}")


def shared_data(relative: str) -> Path:
    """A file of the public data sets in ../shared/data (or LEADFLOW_SHARED_DATA), or a failure that says where."""
    root = Path(os.environ.get("LEADFLOW_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    path = root / relative
    if not path.exists():
        pytest.fail(f"{path} not found: check out ../shared beside this repository or set LEADFLOW_SHARED_DATA")
    return path


def lost_in_round_trip(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where `theirs` (ours read into a schema's model and written back) differs: keys the model dropped because
    the schema does not know them, values it changed. Models that ignore unknown keys validate nothing else."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key, value in ours.items():
            found += [f"{path}.{key}"] if key not in theirs else lost_in_round_trip(value, theirs[key], f"{path}.{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [
            f
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for f in lost_in_round_trip(a, b, f"{path}[{i}]")
        ]
    return [] if ours == theirs else [f"{path}: {ours!r} became {theirs!r}"]
