"""HubSpot: form submissions (a workflow's "Send a webhook", or the forms integration) and CRM object events of the
webhooks API, which carry only ids (the contact is fetched afterwards, like a Meta lead). Signatures v3, v2 and v1
as HubSpot documents them (hubspot_signature.py); v3 is used whenever it is sent.
"""

from typing import Any

from services.intake.domain.mapping import Answer, FieldMapping
from services.intake.domain.refused import Refused
from services.intake.webhooks.contract import Parsed, PendingEnrichment, RawRequest
from services.intake.webhooks.form_adapter import FormAdapter
from services.intake.webhooks.hubspot_signature import signature_v1, signature_v2, signature_v3
from services.intake.webhooks.payload import load_json, obj, objects, text
from services.intake.webhooks.signing import SignatureError, content_hash, fresh, number, same
from services.intake.webhooks.submissions import activity_for, from_answers, when

_TOLERANCE_S = 300


class HubSpotAdapter(FormAdapter):
    """Fields arrive by internal property name (email, firstname, jobtitle, numemployees, …)."""

    name = "hubspot"

    def __init__(self, secret: str | None, mapping: FieldMapping, public_url: str | None) -> None:
        super().__init__(secret, mapping)
        self._public_url = public_url.rstrip("/") if public_url else None

    def verify(self, request: RawRequest, *, now: float) -> None:
        """HubSpot signs the URL it called; behind a proxy, LEADFLOW_PUBLIC_URL says what that was."""
        headers = request.headers
        url = self._called_url(request.url)
        v3 = headers.get("x-hubspot-signature-v3")
        if v3:
            stamp = headers.get("x-hubspot-request-timestamp")
            if not stamp:
                raise SignatureError("missing X-HubSpot-Request-Timestamp header (sent with X-HubSpot-Signature-v3)")
            sent_at = number(stamp, "X-HubSpot-Request-Timestamp") / 1000
            fresh(sent_at, now, _TOLERANCE_S, "X-HubSpot-Request-Timestamp")
            if not same(signature_v3(self.key, request.method, url, request.body, stamp), v3):
                raise SignatureError(
                    "X-HubSpot-Signature-v3 does not match; check the app secret and LEADFLOW_PUBLIC_URL"
                )
            return
        signature = headers.get("x-hubspot-signature")
        version = (headers.get("x-hubspot-signature-version") or "").lower()
        if not signature:
            raise SignatureError("missing X-HubSpot-Signature-v3 (or X-HubSpot-Signature with its version) header")
        if version == "v2":
            expected = signature_v2(self.key, request.method, url, request.body)
        elif version == "v1":
            expected = signature_v1(self.key, request.body)
        else:
            raise SignatureError(f"X-HubSpot-Signature-Version {version or '(missing)'} is not v1, v2 or v3")
        if not same(expected, signature):
            raise SignatureError(f"X-HubSpot-Signature ({version}) does not match; check the app secret")

    def _called_url(self, url: str) -> str:
        if not self._public_url:
            return url
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        return f"{self._public_url}/{path}"

    def parse(self, request: RawRequest) -> Parsed:
        """A form submission, or a batch of CRM object events; HubSpot sends no delivery id, so the body's hash is
        the id."""
        data = load_json(request.body)
        if isinstance(data, list):
            return Parsed(content_hash(request.body), pending=_contacts_of(data))
        if not isinstance(data, dict):
            raise Refused("the body must be a form submission (an object) or CRM object events (a list)")
        body: dict[str, Any] = data
        if "fields" not in body and "values" not in body:
            raise Refused("fields is missing: not a form submission")
        fields = objects(body.get("fields") or body.get("values"), "fields")
        answers = []
        for field in fields:
            name = text(field.get("name"), "fields[].name")
            answers.append(Answer(name, name, field.get("value")))
        context = obj(body.get("context"), "context")
        form_id = text(body.get("formId"), "formId") or text(body.get("formGuid"), "formGuid")
        return Parsed(
            content_hash(request.body),
            (
                from_answers(
                    answers,
                    self._mapping,
                    provider=self.name,
                    form_id=form_id,
                    occurred_at=when(body.get("submittedAt")),
                    activity=activity_for(
                        text(body.get("formName"), "formName") or text(context.get("pageName"), "pageName")
                    ),
                ),
            ),
        )


# Object events that announce a contact whose fields are worth fetching.
_CONTACT_EVENTS = ("contact.creation", "contact.propertyChange", "contact.merge", "contact.restore")


def _contacts_of(events: list[Any]) -> tuple[PendingEnrichment, ...]:
    """Each contact the events name, once, to be fetched from the CRM API."""
    found: dict[str, PendingEnrichment] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("subscriptionType") not in _CONTACT_EVENTS:
            continue
        object_id = event.get("objectId")
        if isinstance(object_id, bool) or not isinstance(object_id, int | str) or str(object_id).strip() == "":
            continue
        context = {
            "portal_id": event.get("portalId"),
            "subscription": event.get("subscriptionType"),
            "created_time": event.get("occurredAt"),
            "change_source": event.get("changeSource"),
        }
        found.setdefault(str(object_id), PendingEnrichment(str(object_id), context))
    return tuple(found.values())
