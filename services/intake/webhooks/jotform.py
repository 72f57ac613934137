"""Jotform submissions: multipart form posts with the answers as JSON in `rawRequest`.

Jotform does not sign webhooks, so the webhook URL carries a secret (`?token=…`) compared in constant time.
"""

import io
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from python_multipart import parse_form
from python_multipart.exceptions import FormParserError

from services.intake.domain.mapping import Answer
from services.intake.domain.refused import Refused
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.payload import load_json, obj
from services.intake.webhooks.signing import SignatureError, delivery_id, require, same
from services.intake.webhooks.submissions import activity_for, from_answers

_QUESTION = re.compile(r"^q\d+_")


class JotformAdapter(FormAdapter):
    """Answer keys look like `q3_email` or `q4_fullName`; the part after the number is the label."""

    name = "jotform"
    content_types: tuple[str, ...] = ("multipart/form-data", "application/x-www-form-urlencoded")

    def verify(self, request: RawRequest, *, now: float) -> None:
        """The shared token in the URL must match."""
        given = require(request.query.get("token"), "token query parameter")
        if not same(self.key, given):
            raise SignatureError("the token query parameter does not match LEADFLOW_WEBHOOK_SECRET_JOTFORM")

    def parse(self, request: RawRequest) -> Parsed:
        """The submissionID identifies a submission on every retry."""
        form = _form_fields(request)
        submission_id = delivery_id(form, "submissionID")
        raw = obj(load_json(form.get("rawRequest") or "{}"), "rawRequest")
        answers = [
            Answer(key, _label(key), value) for key, value in raw.items() if _QUESTION.match(key) and value != ""
        ]
        form_id = form.get("formID")
        return Parsed(
            submission_id,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=form_id,
                    occurred_at=datetime.now(UTC),
                    activity=activity_for(form.get("formTitle")),
                ),
            ),
        )


def _label(key: str) -> str:
    name = _QUESTION.sub("", key)
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")


def _form_fields(request: RawRequest) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
    fields: dict[str, str] = {}

    def on_field(field: Any) -> None:
        fields[field.field_name.decode()] = (field.value or b"").decode(errors="replace")

    def on_file(_file: Any) -> None:
        return None

    try:
        parse_form({"Content-Type": content_type.encode()}, io.BytesIO(request.body), on_field, on_file)
    except FormParserError as exc:
        raise Refused(f"not a multipart form: {exc}") from exc
    return fields
