"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC>)."""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"


class SignatureError(ValueError):
    """A delivery whose signature cannot be trusted; the message says why."""


@dataclass(frozen=True)
class SignedDelivery:
    """The three headers of a Standard Webhooks delivery."""

    webhook_id: str
    timestamp: str
    signatures: str


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret must be whsec_ followed by base64") from exc


def sign(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The `v1,<signature>` value for a delivery; used by senders and tests."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, delivery: SignedDelivery, body: bytes, *, now: float, tolerance_s: int) -> None:
    """Raise SignatureError unless one of the delivery's v1 signatures matches and it is fresh."""
    if not delivery.webhook_id or not delivery.timestamp or not delivery.signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(delivery.timestamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp must be Unix seconds") from exc
    if abs(now - sent_at) > tolerance_s:
        raise SignatureError(f"webhook-timestamp is more than {tolerance_s} s from the server's clock")
    expected = sign(secret, delivery.webhook_id, delivery.timestamp, body).encode()
    matched = False
    # Several space-separated signatures are allowed during secret rotation; check them all.
    for candidate in delivery.signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            matched = True
    if not matched:
        raise SignatureError("webhook-signature does not match the body; check the secret")
