"""Meta lead ads (`leadgen`): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`; GET hub.challenge handshake.

The webhook carries only ids; the lead's fields are fetched afterwards from the Graph API (see enrichment.py),
so a Graph outage never loses a lead: the id is stored first, with the delivery.
"""

from services.intake.domain.refused import Refused
from services.intake.webhooks.contract import HandshakeRefused, Parsed, PendingEnrichment, RawRequest
from services.intake.webhooks.payload import load_object, obj, objects, text
from services.intake.webhooks.signing import SignatureError, content_hash, hmac_sha256, require, same


class FacebookAdapter:
    """Each `leadgen` change is queued for enrichment by its leadgen_id."""

    name = "facebook"
    content_types: tuple[str, ...] = ("application/json",)

    def __init__(self, secret: str | None, verify_token: str | None) -> None:
        self.secret = secret
        self._verify_token = verify_token

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Compare the app-secret signature of the raw body."""
        assert self.secret is not None
        given = require(request.headers.get("x-hub-signature-256"), "X-Hub-Signature-256")
        if not same("sha256=" + hmac_sha256(self.secret, request.body).hex(), given):
            raise SignatureError("X-Hub-Signature-256 does not match the body; check the app secret")

    def challenge(self, query: dict[str, str]) -> str:
        """Answer Meta's subscription check with hub.challenge when hub.verify_token is ours."""
        if not self._verify_token:
            raise HandshakeRefused("set LEADFLOW_FACEBOOK_VERIFY_TOKEN to subscribe this endpoint")
        if query.get("hub.mode") != "subscribe" or not same(self._verify_token, query.get("hub.verify_token")):
            raise HandshakeRefused("hub.verify_token does not match LEADFLOW_FACEBOOK_VERIFY_TOKEN")
        return query.get("hub.challenge", "")

    def parse(self, request: RawRequest) -> Parsed:
        """Queue every leadgen id in the delivery."""
        body = load_object(request.body)
        if "entry" not in body:
            raise Refused("entry is missing: not a Page webhook")
        pending = []
        for entry in objects(body.get("entry"), "entry"):
            for change in objects(entry.get("changes"), "entry[].changes"):
                value = obj(change.get("value"), "changes[].value")
                leadgen_id = text(value.get("leadgen_id"), "changes[].value.leadgen_id")
                if change.get("field") != "leadgen" or not leadgen_id:
                    continue
                context = {k: text(value.get(k), k) for k in ("form_id", "page_id", "ad_id", "adgroup_id")}
                context["created_time"] = value.get("created_time")
                pending.append(PendingEnrichment(leadgen_id, context))
        return Parsed(content_hash(request.body), pending=tuple(pending))
