"""The pieces every provider's signature scheme is built from; comparisons are constant-time."""

import base64
import hashlib
import hmac
import json
from typing import Any

from services.intake.domain.refused import Refused
from services.intake.domain.standard_webhooks import SignatureError
from services.intake.webhooks.payload import load_json, text

__all__ = [
    "SignatureError",
    "b64",
    "content_hash",
    "delivery_id",
    "fresh",
    "hmac_sha256",
    "number",
    "require",
    "same",
]


def hmac_sha256(key: str | bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of `message`."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).digest()


def b64(digest: bytes) -> str:
    """Base64 text of a digest."""
    return base64.b64encode(digest).decode()


def same(expected: str, given: str | None) -> bool:
    """Constant-time equality of two signatures."""
    return given is not None and hmac.compare_digest(expected.encode(), given.strip().encode())


def require(header: str | None, name: str) -> str:
    """The header's value, or a SignatureError naming it."""
    if not header:
        raise SignatureError(f"missing {name} header")
    return header


def fresh(sent_at_s: float, now: float, tolerance_s: int, name: str) -> None:
    """Refuse a delivery whose timestamp is outside the provider's tolerance (replays)."""
    if abs(now - sent_at_s) > tolerance_s:
        raise SignatureError(f"{name} is more than {tolerance_s} s from the server's clock; replayed or stale")


def number(value: str, name: str) -> float:
    """A timestamp header as a number."""
    try:
        return float(value)
    except ValueError as exc:
        raise SignatureError(f"{name} must be a number") from exc


def delivery_id(container: dict[str, Any], key: str, name: str | None = None) -> str:
    """The provider's id of a delivery, which every retry repeats (a JSON number reads as its digits)."""
    value = text(container.get(key), name or key)
    if value is None:
        raise Refused(f"{name or key} is missing")
    return value


def content_hash(body: bytes) -> str:
    """A delivery id for providers that send none: the same body is the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def signed_variants(body: bytes) -> tuple[bytes, ...]:
    """The bytes a sender may have signed: the raw body, and its compact re-serialisation, which is what the
    verification examples of Webflow and Tally sign (`JSON.stringify(req.body)` of the parsed body). A body that is
    not JSON has only its raw bytes."""
    try:
        compact = json.dumps(load_json(body), separators=(",", ":"), ensure_ascii=False).encode()
    except (Refused, ValueError):
        return (body,)
    return (body,) if compact == body else (body, compact)
