"""Webflow `form_submission`: `x-webflow-signature: <hex HMAC-SHA256("{timestamp}:{body}")>`, timestamp in ms, 5 min."""

from services.intake.domain.mapping import Answer
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.payload import load_object, obj, text
from services.intake.webhooks.signing import (
    SignatureError,
    delivery_id,
    fresh,
    hmac_sha256,
    number,
    require,
    same,
    signed_variants,
)
from services.intake.webhooks.submissions import activity_for, from_answers, when

_TOLERANCE_S = 300


class WebflowAdapter(FormAdapter):
    """`payload.data` maps each field's name to its value."""

    name = "webflow"

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Check the timestamped signature and its age."""
        signature = require(request.headers.get("x-webflow-signature"), "x-webflow-signature")
        stamp = require(request.headers.get("x-webflow-timestamp"), "x-webflow-timestamp")
        fresh(number(stamp, "x-webflow-timestamp") / 1000, now, _TOLERANCE_S, "x-webflow-timestamp")
        if not any(
            same(hmac_sha256(self.key, f"{stamp}:".encode() + signed).hex(), signature)
            for signed in signed_variants(request.body)
        ):
            raise SignatureError("x-webflow-signature does not match the body; check the app's client secret")

    def parse(self, request: RawRequest) -> Parsed:
        """payload.id identifies a submission on every retry."""
        body = load_object(request.body)
        payload = obj(body.get("payload"), "payload")
        submission_id = delivery_id(payload, "id", "payload.id")
        if body.get("triggerType") != "form_submission":
            return Parsed(submission_id)
        data = obj(payload.get("data"), "payload.data")
        answers = [Answer(name, name, value) for name, value in data.items()]
        return Parsed(
            submission_id,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=text(payload.get("formId"), "payload.formId"),
                    occurred_at=when(payload.get("submittedAt")),
                    activity=activity_for(text(payload.get("name"), "payload.name")),
                ),
            ),
        )
