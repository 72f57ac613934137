"""Any JSON source signing with Standard Webhooks; the body's `data` is a lead in leadflow's shape."""

from services.intake.api.schemas import GenericWebhook
from services.intake.domain import standard_webhooks
from services.intake.webhooks.contract import Parsed, RawRequest


class GenericAdapter:
    """Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers."""

    name = "generic"
    content_types: tuple[str, ...] = ("application/json",)

    def __init__(self, secret: str | None, tolerance_s: int) -> None:
        self.secret = secret
        self._tolerance_s = tolerance_s

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Check the v1 HMAC-SHA256 signature and the timestamp tolerance."""
        delivery = standard_webhooks.SignedDelivery(
            webhook_id=request.headers.get("webhook-id", ""),
            timestamp=request.headers.get("webhook-timestamp", ""),
            signatures=request.headers.get("webhook-signature", ""),
        )
        assert self.secret is not None
        standard_webhooks.verify(self.secret, delivery, request.body, now=now, tolerance_s=self._tolerance_s)

    def parse(self, request: RawRequest) -> Parsed:
        """Validate the JSON body; webhook-id is the same on every retry of a message."""
        lead = GenericWebhook.model_validate_json(request.body).data
        return Parsed(request.headers["webhook-id"], (lead.to_submission(self.name),))
