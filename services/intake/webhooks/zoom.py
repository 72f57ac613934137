"""Zoom webinar events: `x-zm-signature: v0=<hex HMAC-SHA256("v0:{timestamp}:{body}")>`; endpoint URL validation."""

import hashlib
import hmac
from typing import Any

from services.intake.domain.capture import submission
from services.intake.domain.mapping import Answer, FieldMapping, map_answers
from services.intake.domain.refused import Refused
from services.intake.webhooks.contract import Parsed, RawRequest, WebinarJoin
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.payload import load_object, obj, objects, text
from services.intake.webhooks.signing import (
    SignatureError,
    content_hash,
    fresh,
    hmac_sha256,
    number,
    require,
    same,
)
from services.intake.webhooks.submissions import when
from shared.events.vocabulary import ActivityType


class ZoomAdapter(FormAdapter):
    """Registrations become leads; joins are remembered; leaving counts the minutes attended."""

    name = "zoom"

    def __init__(self, secret: str | None, mapping: FieldMapping, tolerance_s: int) -> None:
        super().__init__(secret, mapping)
        self._tolerance_s = tolerance_s

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Check the v0 signature and timestamp (URL validation requests are signed too)."""
        signature = require(request.headers.get("x-zm-signature"), "x-zm-signature")
        stamp = require(request.headers.get("x-zm-request-timestamp"), "x-zm-request-timestamp")
        fresh(number(stamp, "x-zm-request-timestamp"), now, self._tolerance_s, "x-zm-request-timestamp")
        expected = "v0=" + hmac_sha256(self.key, f"v0:{stamp}:".encode() + request.body).hex()
        if not same(expected, signature):
            raise SignatureError("x-zm-signature does not match the body; check the secret token")

    def parse(self, request: RawRequest) -> Parsed:
        """One event per delivery; Zoom sends no delivery id, so the body's hash is the id."""
        body = load_object(request.body)
        event = body.get("event")
        payload = obj(body.get("payload"), "payload")
        delivery = content_hash(request.body)
        if event == "endpoint.url_validation":
            return Parsed(delivery, reply=self._validation(payload))
        webinar = obj(payload.get("object"), "payload.object")
        webinar_id = text(webinar.get("id"), "payload.object.id") or text(webinar.get("uuid"), "object.uuid") or ""
        topic = text(webinar.get("topic"), "payload.object.topic")
        # Meetings with registration send the same shapes under meeting.*; both are sessions a lead signs up to.
        event = str(event).replace("meeting.", "webinar.", 1) if isinstance(event, str) else event
        if event == "webinar.registration_created":
            registrant = obj(webinar.get("registrant"), "payload.object.registrant")
            return Parsed(delivery, (self._registered(registrant, webinar_id, topic, body),))
        participant = obj(webinar.get("participant"), "payload.object.participant")
        email = text(participant.get("email"), "participant.email")
        if event == "webinar.participant_joined" and email:
            joined = participant.get("join_time") or participant.get("date_time")  # meeting events say date_time
            return Parsed(delivery, joins=(WebinarJoin(webinar_id, email, when(joined)),))
        if event == "webinar.participant_left" and email:
            first, _, last = (text(participant.get("user_name"), "participant.user_name") or "").partition(" ")
            attended = submission(
                {
                    "email": email,
                    "first_name": first or None,
                    "last_name": last or None,
                    "answers": {"webinar_id": webinar_id, "webinar": str(topic or webinar_id)},
                },
                provider=self.name,
                form_id=webinar_id,
                occurred_at=when(participant.get("leave_time")),
                activity=ActivityType.WEBINAR_ATTENDED,
                engagement_only=True,
                minutes=_minutes(participant),
            )
            return Parsed(delivery, (attended,))
        return Parsed(delivery)

    def _validation(self, payload: dict[str, Any]) -> dict[str, str]:
        plain = text(payload.get("plainToken"), "payload.plainToken")
        if not plain:
            raise Refused("endpoint.url_validation needs payload.plainToken")
        encrypted = hmac.new(self.key.encode(), plain.encode(), hashlib.sha256).hexdigest()
        return {"plainToken": plain, "encryptedToken": encrypted}

    def _registered(self, registrant: dict[str, Any], webinar_id: str, topic: Any, body: dict[str, Any]) -> Any:
        answers = [
            Answer(None, text(q.get("title"), "custom_questions[].title"), q.get("value"))
            for q in objects(registrant.get("custom_questions"), "registrant.custom_questions")
        ]
        fields = map_answers(answers, f"{self.name}:{webinar_id}", self._mapping)
        direct = {field: text(registrant.get(key), f"registrant.{key}") for field, key in _REGISTRANT_FIELDS.items()}
        fields |= {k: v for k, v in direct.items() if v is not None}
        told = {key: text(registrant.get(key), f"registrant.{key}") for key in _REGISTRANT_ANSWERS}
        fields["answers"] = (
            fields.get("answers", {})
            | {key: value for key, value in told.items() if value is not None}
            | {"webinar_id": webinar_id, "webinar": str(topic or webinar_id)}
        )
        return submission(
            fields,
            provider=self.name,
            form_id=webinar_id,
            occurred_at=when(body.get("event_ts")),
            activity=ActivityType.WEBINAR_REGISTERED,
        )


# Zoom's registrant fields (webinar.registration_created) that are lead fields, and those kept as answers: the
# registration questions a host can switch on (the qualifier reads timeline and buying role from them).
_REGISTRANT_FIELDS = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "job_title": "job_title",
    "company": "org",
    "country": "country",
    "phone": "phone",
    "industry": "industry",
    "company_size": "no_of_employees",
}
_REGISTRANT_ANSWERS = (
    "purchasing_time_frame",
    "role_in_purchase_process",
    "comments",
    "address",
    "city",
    "state",
    "zip",
)


def _minutes(participant: dict[str, Any]) -> float | None:
    if participant.get("join_time") and participant.get("leave_time"):  # when() refuses what is not a time
        seconds = (when(participant["leave_time"]) - when(participant["join_time"])).total_seconds()
        return round(max(0.0, seconds) / 60, 1)
    if isinstance(participant.get("duration"), int | float):
        return round(float(participant["duration"]) / 60, 1)
    return None  # counted from the stored join time
