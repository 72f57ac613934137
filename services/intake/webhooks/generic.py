"""Any JSON source signing with Standard Webhooks; the body's `data` is a lead in leadflow's shape."""

from collections.abc import Mapping

from services.intake.api.schemas import GenericWebhook
from services.intake.domain import standard_webhooks
from services.intake.domain.capture import Submission


class GenericAdapter:
    """Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers."""

    name = "generic"

    def __init__(self, tolerance_s: int) -> None:
        self._tolerance_s = tolerance_s

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> None:
        """Check the v1 HMAC-SHA256 signature and the timestamp tolerance."""
        delivery = standard_webhooks.SignedDelivery(
            webhook_id=headers.get("webhook-id", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            signatures=headers.get("webhook-signature", ""),
        )
        standard_webhooks.verify(secret, delivery, body, now=now, tolerance_s=self._tolerance_s)

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The webhook-id header, the same on every retry of a message."""
        return headers["webhook-id"]

    def parse(self, body: bytes) -> Submission:
        """Validate the JSON body."""
        return GenericWebhook.model_validate_json(body).data.to_submission(self.name)
