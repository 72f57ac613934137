"""Calendly `invitee.created`: `Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256("{t}.{body}")>`, 3 minutes."""

from typing import Any

from services.intake.domain.mapping import Answer
from services.intake.webhooks.adapter import Parsed, RawRequest
from services.intake.webhooks.base import FormAdapter
from services.intake.webhooks.forms import activity_for, from_answers, when
from services.intake.webhooks.signing import (
    SignatureError,
    fresh,
    hmac_sha256,
    json_object,
    number,
    require,
    same,
)
from shared.events.vocabulary import ActivityType

_TOLERANCE_S = 180


class CalendlyAdapter(FormAdapter):
    """A booked meeting (a demo when the event type says so); answers to booking questions are kept."""

    name = "calendly"

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Check every v1 signature of the header against the timestamped body."""
        header = require(request.headers.get("calendly-webhook-signature"), "Calendly-Webhook-Signature")
        parts: dict[str, list[str]] = {}
        for piece in header.split(","):
            key, _, value = piece.strip().partition("=")
            parts.setdefault(key, []).append(value)
        if not parts.get("t") or not parts.get("v1"):
            raise SignatureError("Calendly-Webhook-Signature must carry t= and v1=")
        stamp = parts["t"][0]
        fresh(number(stamp, "Calendly-Webhook-Signature t"), now, _TOLERANCE_S, "Calendly-Webhook-Signature t")
        expected = hmac_sha256(self.key, f"{stamp}.".encode() + request.body).hex()
        if not any(same(expected, given) for given in parts["v1"]):
            raise SignatureError("Calendly-Webhook-Signature does not match the body; check the signing key")

    def parse(self, request: RawRequest) -> Parsed:
        """The invitee's URI identifies the booking on every retry."""
        body = json_object(request.body)
        payload: dict[str, Any] = body.get("payload") or {}
        delivery = f"{body.get('event')}:{payload.get('uri') or body.get('created_at')}"
        if body.get("event") != "invitee.created":
            return Parsed(delivery)
        answers = [
            Answer(None, qa.get("question"), qa.get("answer"))
            for qa in payload.get("questions_and_answers") or []
            if isinstance(qa, dict)
        ]
        tracking = payload.get("tracking") or {}
        scheduled = payload.get("scheduled_event") or {}
        event_name = scheduled.get("name")
        return Parsed(
            delivery,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=str(scheduled.get("event_type") or "") or None,
                    occurred_at=when(payload.get("created_at") or body.get("created_at")),
                    activity=activity_for(event_name, ActivityType.MEETING_BOOKED),
                    extra={
                        "email": payload.get("email"),
                        "first_name": payload.get("first_name"),
                        "last_name": payload.get("last_name"),
                        "full_name": payload.get("name"),
                        "phone": payload.get("text_reminder_number"),
                        "utm_source": tracking.get("utm_source"),
                        "utm_medium": tracking.get("utm_medium"),
                        "utm_campaign": tracking.get("utm_campaign"),
                    },
                ),
            ),
        )
