"""HubSpot's three request signatures, as its "Validating requests" page documents them.

- v3 (`X-HubSpot-Signature-v3`, with `X-HubSpot-Request-Timestamp` in milliseconds): base64 of
  HMAC-SHA256(client secret, method + URI + body + timestamp), where the URI first has the characters HubSpot
  lists URL-decoded (`%3A` → `:`, `%2F` → `/`, … — the table below), and the timestamp is at most 5 minutes old.
- v2 (`X-HubSpot-Signature` with `X-HubSpot-Signature-Version: v2`; workflow webhooks, CRM cards): hex SHA-256 of
  client secret + method + URI + body.
- v1 (`X-HubSpot-Signature-Version: v1`; CRM object events of the webhooks API): hex SHA-256 of client secret +
  body.
"""

import hashlib
import re

from services.intake.webhooks.signing import b64, hmac_sha256

# HubSpot decodes exactly these before signing a v3 request (and no others: %20 stays %20).
_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_V3_ESCAPE = re.compile("|".join(_V3_DECODED), re.IGNORECASE)


def v3_uri(uri: str) -> str:
    """The request URI as HubSpot signs it in v3."""
    return _V3_ESCAPE.sub(lambda m: _V3_DECODED[m.group().upper()], uri)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The X-HubSpot-Signature-v3 value of a request."""
    return b64(hmac_sha256(secret, method.encode() + v3_uri(uri).encode() + body + timestamp.encode()))


def signature_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """The X-HubSpot-Signature value of a v2 request."""
    return hashlib.sha256(secret.encode() + method.encode() + uri.encode() + body).hexdigest()


def signature_v1(secret: str, body: bytes) -> str:
    """The X-HubSpot-Signature value of a v1 request."""
    return hashlib.sha256(secret.encode() + body).hexdigest()
