"""The contract every provider adapter fulfils."""

from collections.abc import Mapping
from typing import Protocol

from services.intake.domain.capture import Submission


class WebhookAdapter(Protocol):
    """One provider's signature scheme and payload shape."""

    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> None:
        """Raise SignatureError unless the delivery is authentic and fresh."""

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The provider's id of this delivery, stable across its retries."""

    def parse(self, body: bytes) -> Submission:
        """Map the payload to a Submission; raise ValueError or ValidationError when it is not one."""
