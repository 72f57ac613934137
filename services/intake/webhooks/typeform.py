"""Typeform `form_response` webhooks: `Typeform-Signature: sha256=<base64 HMAC-SHA256(body)>`, no timestamp."""

from typing import Any

from services.intake.domain.mapping import Answer
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.payload import items, load_object, obj, objects, text
from services.intake.webhooks.signing import SignatureError, b64, delivery_id, hmac_sha256, require, same
from services.intake.webhooks.submissions import activity_for, from_answers, when

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
        body = load_object(request.body)
        event_id = delivery_id(body, "event_id")
        if body.get("event_type") != "form_response":
            return Parsed(event_id)
        response = obj(body.get("form_response"), "form_response")
        definition = obj(response.get("definition"), "form_response.definition")
        defined = objects(definition.get("fields"), "form_response.definition.fields")
        titles = {text(f.get("id"), "definition.fields[].id"): f.get("title") for f in defined}
        # An answer may carry only its field's id; the ref (what per-form overrides name) is in the definition.
        refs = {text(f.get("id"), "definition.fields[].id"): text(f.get("ref"), "fields[].ref") for f in defined}
        answers = []
        for item in objects(response.get("answers"), "form_response.answers"):
            field = obj(item.get("field"), "answers[].field")
            field_id = text(field.get("id"), "answers[].field.id")
            ref = text(field.get("ref"), "answers[].field.ref") or refs.get(field_id)
            kind = _KINDS.get(str(item.get("type"))) or _KINDS.get(str(field.get("type")))
            answers.append(Answer(ref or field_id, _title(titles.get(field_id)), _value(item), kind))
        hidden = obj(response.get("hidden"), "form_response.hidden")
        form_id = text(response.get("form_id"), "form_response.form_id") or text(definition.get("id"), "definition.id")
        return Parsed(
            event_id,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=form_id,
                    occurred_at=when(response.get("submitted_at")),
                    activity=activity_for(_title(definition.get("title"))),
                    extra={k: hidden.get(k) for k in ("utm_source", "utm_medium", "utm_campaign", "email")},
                ),
            ),
        )


# Typeform's answer and field types that say which field an answer is ("legal" is its terms-acceptance question).
_KINDS = {"email": "email", "phone_number": "phone", "legal": "consent"}


def _title(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _value(item: dict[str, Any]) -> Any:
    kind = item.get("type")
    if kind == "choice":
        choice = obj(item.get("choice"), "answers[].choice")
        return choice.get("label") or choice.get("other")
    if kind == "choices":  # several options, and what the person wrote under "Other"
        choices = obj(item.get("choices"), "answers[].choices")
        labels: list[Any] = items(choices.get("labels"), "answers[].choices.labels") if "labels" in choices else []
        return [*labels, choices["other"]] if choices.get("other") else labels or None
    for key in _VALUE_KEYS:
        if key in item:
            return item[key]
    return None
