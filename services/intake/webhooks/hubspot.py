"""HubSpot form submissions, signed with v3: base64 HMAC-SHA256(method + URI + body + timestamp), 5 minutes."""

from services.intake.domain.mapping import Answer, FieldMapping
from services.intake.webhooks.adapter import Parsed, RawRequest
from services.intake.webhooks.base import FormAdapter
from services.intake.webhooks.forms import activity_for, from_answers, when
from services.intake.webhooks.signing import (
    SignatureError,
    b64,
    content_hash,
    fresh,
    hmac_sha256,
    json_object,
    number,
    require,
    same,
)

_TOLERANCE_S = 300


class HubSpotAdapter(FormAdapter):
    """Fields arrive by internal property name (email, firstname, jobtitle, numemployees, …)."""

    name = "hubspot"

    def __init__(self, secret: str | None, mapping: FieldMapping, public_url: str | None) -> None:
        super().__init__(secret, mapping)
        self._public_url = public_url.rstrip("/") if public_url else None

    def verify(self, request: RawRequest, *, now: float) -> None:
        """HubSpot signs the URL it called; behind a proxy, LEADFLOW_PUBLIC_URL says what that was."""
        signature = require(request.headers.get("x-hubspot-signature-v3"), "X-HubSpot-Signature-v3")
        stamp = require(request.headers.get("x-hubspot-request-timestamp"), "X-HubSpot-Request-Timestamp")
        fresh(number(stamp, "X-HubSpot-Request-Timestamp") / 1000, now, _TOLERANCE_S, "X-HubSpot-Request-Timestamp")
        url = request.url
        if self._public_url:
            path = url.split("://", 1)[-1].split("/", 1)[-1]
            url = f"{self._public_url}/{path}"
        message = f"{request.method}{url}".encode() + request.body + stamp.encode()
        if not same(b64(hmac_sha256(self.key, message)), signature):
            raise SignatureError("X-HubSpot-Signature-v3 does not match; check the app secret and LEADFLOW_PUBLIC_URL")

    def parse(self, request: RawRequest) -> Parsed:
        """One submission; HubSpot sends no delivery id, so the body's hash is the id."""
        body = json_object(request.body)
        fields = body.get("fields") or body.get("values")
        if not isinstance(fields, list):
            raise ValueError("fields must be a list of {name, value}")
        answers = [Answer(f.get("name"), f.get("name"), f.get("value")) for f in fields if isinstance(f, dict)]
        context = body.get("context") or {}
        form_id = body.get("formId") or body.get("formGuid")
        return Parsed(
            content_hash(request.body),
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=form_id,
                    occurred_at=when(body.get("submittedAt")),
                    activity=activity_for(body.get("formName") or context.get("pageName")),
                ),
            ),
        )
