"""Sign deliveries the way each provider documents it, independently of the adapters under test."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"

SECRETS = {
    "typeform": "tf-secret-5e8a1c",
    "hubspot": "hs-client-secret-0f6b2d",
    "zoom": "zm-secret-token-b71c",
    "calendly": "cal-signing-key-9d3e",
    "facebook": "fb-app-secret-44aa",
    "jotform": "jf-url-token-8c21",
    "tally": "tally-signing-secret-31f0",
    "webflow": "wf-client-secret-6e57",
}
FACEBOOK_VERIFY_TOKEN = "fb-verify-token-7777"


def settings_overrides() -> dict[str, Any]:
    """Intake settings carrying every test secret."""
    return {f"webhook_secret_{name}": secret for name, secret in SECRETS.items()} | {
        "facebook_verify_token": FACEBOOK_VERIFY_TOKEN
    }


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())  # type: ignore[no-any-return]


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def signed(
    provider: str,
    payload: Any,
    *,
    url: str = "http://test/v1/webhooks/x",
    now: float | None = None,
    secret: str | None = None,
    body: bytes | None = None,
) -> tuple[bytes, dict[str, str], str]:
    """(body, headers, query string) of a delivery signed as `provider` signs it."""
    now = time.time() if now is None else now
    key = secret or SECRETS.get(provider, "")
    if provider == "jotform":
        boundary = "----leadflowtest" + uuid.uuid4().hex[:8]
        parts = {
            "formID": "243215678901234",
            "submissionID": payload.get("submission_id", "5948291037465"),
            "formTitle": "Trade show follow-up",
            "rawRequest": json.dumps(payload["raw"]),
            "pretty": "Email:" + str(payload["raw"].get("q3_email")),
        }
        body = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in parts.items()
            )
            + f"--{boundary}--\r\n".encode()
        )
        return body, {"content-type": f"multipart/form-data; boundary={boundary}"}, f"token={key}"
    body = json.dumps(payload).encode() if body is None else body
    headers = {"content-type": "application/json"}
    if provider == "typeform":
        headers["typeform-signature"] = "sha256=" + base64.b64encode(_hmac(key, body)).decode()
    elif provider == "hubspot":
        stamp = str(int(now * 1000))
        headers["x-hubspot-request-timestamp"] = stamp
        headers["x-hubspot-signature-v3"] = base64.b64encode(
            _hmac(key, b"POST" + url.encode() + body + stamp.encode())
        ).decode()
    elif provider == "zoom":
        stamp = str(int(now))
        headers["x-zm-request-timestamp"] = stamp
        headers["x-zm-signature"] = "v0=" + _hmac(key, f"v0:{stamp}:".encode() + body).hex()
    elif provider == "calendly":
        stamp = str(int(now))
        headers["calendly-webhook-signature"] = f"t={stamp},v1={_hmac(key, f'{stamp}.'.encode() + body).hex()}"
    elif provider == "facebook":
        headers["x-hub-signature-256"] = "sha256=" + _hmac(key, body).hex()
    elif provider == "tally":
        headers["tally-signature"] = base64.b64encode(_hmac(key, body)).decode()
    elif provider == "webflow":
        stamp = str(int(now * 1000))
        headers["x-webflow-timestamp"] = stamp
        headers["x-webflow-signature"] = _hmac(key, f"{stamp}:".encode() + body).hex()
    else:
        raise ValueError(provider)
    return body, headers, ""
