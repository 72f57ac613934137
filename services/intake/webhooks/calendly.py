"""Calendly `invitee.created`: `Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256("{t}.{body}")>`, 3 minutes."""

from services.intake.domain.mapping import Answer
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.payload import load_object, obj, objects, text
from services.intake.webhooks.signing import (
    SignatureError,
    fresh,
    hmac_sha256,
    number,
    require,
    same,
)
from services.intake.webhooks.submissions import activity_for, from_answers, when
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
        body = load_object(request.body)
        payload = obj(body.get("payload"), "payload")
        uri = text(payload.get("uri"), "payload.uri") or text(body.get("created_at"), "created_at")
        delivery = f"{text(body.get('event'), 'event')}:{uri}"
        if body.get("event") != "invitee.created":
            return Parsed(delivery)
        answers = [
            Answer(None, text(qa.get("question"), "questions_and_answers[].question"), qa.get("answer"))
            for qa in objects(payload.get("questions_and_answers"), "payload.questions_and_answers")
        ]
        tracking = obj(payload.get("tracking"), "payload.tracking")
        scheduled = obj(payload.get("scheduled_event"), "payload.scheduled_event")
        event_name = text(scheduled.get("name"), "scheduled_event.name")
        return Parsed(
            delivery,
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=text(scheduled.get("event_type"), "scheduled_event.event_type"),
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
