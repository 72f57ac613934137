"""Tally `FORM_RESPONSE`: `Tally-Signature: <base64 HMAC-SHA256(body)>`, no timestamp."""

from typing import Any

from services.intake.domain.mapping import Answer
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.payload import load_object, obj, objects, text
from services.intake.webhooks.signing import (
    SignatureError,
    b64,
    delivery_id,
    hmac_sha256,
    require,
    same,
    signed_variants,
)
from services.intake.webhooks.submissions import activity_for, from_answers, when


class TallyAdapter(FormAdapter):
    """Fields carry their label; choice answers are option ids resolved through the field's options."""

    name = "tally"

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Compare the signature of the raw body (or of its re-serialisation, which Tally's own example signs)."""
        given = require(request.headers.get("tally-signature"), "Tally-Signature")
        if not any(same(b64(hmac_sha256(self.key, signed)), given) for signed in signed_variants(request.body)):
            raise SignatureError("Tally-Signature does not match the body; check the signing secret")

    def parse(self, request: RawRequest) -> Parsed:
        """eventId identifies a delivery on every retry."""
        body = load_object(request.body)
        event_id = delivery_id(body, "eventId")
        if body.get("eventType") != "FORM_RESPONSE":
            return Parsed(event_id)
        data = obj(body.get("data"), "data")
        answers = [
            Answer(
                text(f.get("key"), "data.fields[].key"),
                _label(f.get("label")),
                _value(f),
                _KINDS.get(str(f.get("type"))),
            )
            for f in objects(data.get("fields"), "data.fields")
        ]
        return Parsed(
            event_id,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=text(data.get("formId"), "data.formId"),
                    occurred_at=when(data.get("createdAt") or body.get("createdAt")),
                    activity=activity_for(_label(data.get("formName"))),
                ),
            ),
        )


# Tally's field types that say which field an answer is.
_KINDS = {"INPUT_EMAIL": "email", "INPUT_PHONE_NUMBER": "phone"}


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _value(field: dict[str, Any]) -> Any:
    value = field.get("value")
    if field.get("type") == "MATRIX" and isinstance(value, dict):
        rows = _texts(field.get("rows"), "data.fields[].rows")
        columns = _texts(field.get("columns"), "data.fields[].columns")
        return {
            rows.get(row, row): [columns.get(c, c) if isinstance(c, str) else c for c in chosen]
            if isinstance(chosen, list)
            else chosen
            for row, chosen in value.items()
        }
    options = {
        text(o.get("id"), "options[].id"): o.get("text") for o in objects(field.get("options"), "data.fields[].options")
    }
    if options and isinstance(value, list):
        return [options.get(v, v) if isinstance(v, str) else v for v in value]
    if options and isinstance(value, str):
        return options.get(value, value)
    return value


def _texts(value: Any, where: str) -> dict[str | None, Any]:
    """A list of {id, text} (options, matrix rows and columns) as id -> text."""
    return {text(o.get("id"), f"{where}[].id"): o.get("text") for o in objects(value, where)}
