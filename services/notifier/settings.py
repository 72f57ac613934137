"""Notifier's settings."""

from pydantic import Field

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    """Environment of the notifier service."""

    delivery_interval_s: float = Field(1.0, gt=0, le=60, description="how often due endpoints are looked for")
    delivery_timeout_s: float = Field(10.0, gt=0, le=60, description="a receiver slower than this has failed")
    delivery_batch: int = Field(50, ge=1, le=1000, description="deliveries sent to one endpoint per turn, in order")
    delivery_concurrency: int = Field(16, ge=1, le=256, description="endpoints delivered to at once per replica")
    # Retries back off exponentially (with jitter) up to this; an endpoint failing this long is disabled.
    retry_max_delay_s: float = Field(3600.0, gt=0)
    disable_after_s: float = Field(24 * 3600.0, gt=0)
    # Endpoints must be https in production (secrets and personal data travel in the body).
    console_url: str | None = Field(None, description="chat messages link each lead to its page on the console")
    allow_plain_http: bool = Field(False, description="accept http:// endpoint URLs outside development and test")
