"""Typeform `form_response` webhooks: `Typeform-Signature: sha256=<base64 HMAC-SHA256(body)>`, no timestamp."""

from typing import Any

from services.intake.domain.mapping import Answer
from services.intake.webhooks.adapter import Parsed, RawRequest
from services.intake.webhooks.base import FormAdapter
from services.intake.webhooks.forms import activity_for, from_answers, when
from services.intake.webhooks.signing import SignatureError, b64, delivery_id, hmac_sha256, json_object, require, same

_VALUE_KEYS = ("email", "text", "phone_number", "number", "boolean", "date", "url", "file_url")


class TypeformAdapter(FormAdapter):
    """Answers are typed objects; the form definition gives each field's title."""

    name = "typeform"

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Compare the signature of the raw body."""
        given = require(request.headers.get("typeform-signature"), "Typeform-Signature")
        if not same("sha256=" + b64(hmac_sha256(self.key, request.body)), given):
            raise SignatureError("Typeform-Signature does not match the body; check the webhook's secret")

    def parse(self, request: RawRequest) -> Parsed:
        """One submission per form_response; other event types are acknowledged and ignored."""
        body = json_object(request.body)
        event_id = delivery_id(body, "event_id")
        if body.get("event_type") != "form_response":
            return Parsed(event_id)
        response = body.get("form_response") or {}
        definition = response.get("definition") or {}
        titles = {f.get("id"): f.get("title") for f in definition.get("fields") or [] if isinstance(f, dict)}
        answers = []
        for item in response.get("answers") or []:
            field = item.get("field") or {}
            answers.append(Answer(field.get("ref") or field.get("id"), titles.get(field.get("id")), _value(item)))
        hidden: dict[str, Any] = response.get("hidden") or {}
        form_id = response.get("form_id") or definition.get("id")
        return Parsed(
            event_id,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=form_id,
                    occurred_at=when(response.get("submitted_at")),
                    activity=activity_for(definition.get("title")),
                    extra={k: hidden.get(k) for k in ("utm_source", "utm_medium", "utm_campaign", "email")},
                ),
            ),
        )


def _value(item: dict[str, Any]) -> Any:
    kind = item.get("type")
    if kind == "choice":
        return (item.get("choice") or {}).get("label") or (item.get("choice") or {}).get("other")
    if kind == "choices":
        return (item.get("choices") or {}).get("labels")
    for key in _VALUE_KEYS:
        if key in item:
            return item[key]
    return None
