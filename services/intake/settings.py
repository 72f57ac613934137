"""Intake's settings: webhook secrets per provider, Meta's Graph API, and limits on what it accepts."""

from pydantic import Field, SecretStr, model_validator

from services.intake.domain.standard_webhooks import decode_secret
from shared.settings import ServiceSettings

# Shorter shared secrets are guessable; providers generate longer ones (Zoom 22, Typeform and Tally 32+).
MIN_SECRET_LENGTH = 16

PROVIDERS = ("generic", "typeform", "hubspot", "zoom", "calendly", "facebook", "jotform", "tally", "webflow")


class IntakeSettings(ServiceSettings):
    """Environment of the intake service (LEADFLOW_WEBHOOK_SECRET_<PROVIDER> for each provider)."""

    webhook_secret_generic: SecretStr | None = None
    webhook_secret_typeform: SecretStr | None = None
    webhook_secret_hubspot: SecretStr | None = None
    webhook_secret_zoom: SecretStr | None = None
    webhook_secret_calendly: SecretStr | None = None
    webhook_secret_facebook: SecretStr | None = None
    webhook_secret_jotform: SecretStr | None = None
    webhook_secret_tally: SecretStr | None = None
    webhook_secret_webflow: SecretStr | None = None
    facebook_verify_token: SecretStr | None = None
    facebook_graph_url: str = "https://graph.facebook.com/v21.0"
    facebook_access_token: SecretStr | None = None
    hubspot_api_url: str = Field("https://api.hubapi.com", description="where contacts of CRM events are fetched")
    hubspot_access_token: SecretStr | None = None
    hubspot_enrichment_interval_s: float = Field(2.0, gt=0, le=3600)
    public_url: str | None = Field(None, description="the URL providers call, when a proxy rewrites it (HubSpot)")
    webhook_tolerance_s: int = Field(300, ge=1, le=3600)
    max_import_bytes: int = Field(64 * 1_048_576, ge=1024)
    # Lead ids as an HMAC under this installation secret (services/intake/commands/lead_ids.py); required in production.
    lead_id_key: SecretStr | None = None
    import_resume_interval_s: float = Field(30, gt=0, le=3600, description="how often stopped imports are resumed")
    enrichment_interval_s: float = Field(2.0, gt=0, le=3600)
    # Backoff doubles from 5 s to an hour: 12 attempts span about 3.5 hours before the lead goes to quarantine.
    enrichment_max_attempts: int = Field(12, ge=1, le=100)
    # Deliveries are the window in which a provider's retry is recognised as one: HubSpot retries a failed
    # delivery for up to three days, the longest schedule of the supported providers.
    delivery_retention_days: float = Field(30, ge=4)
    # Quarantined deliveries keep a person's raw answers: an unresolved one is deleted this long after it was last
    # seen (fix and replay before then), finished imports with their row errors too.
    quarantine_retention_days: float = Field(90, ge=1)

    @model_validator(mode="after")
    def _lead_ids_that_reveal_nothing(self) -> "IntakeSettings":
        key = self.lead_id_key.get_secret_value() if self.lead_id_key else ""
        if self.lead_id_key is not None and not key.strip():
            raise ValueError("LEADFLOW_LEAD_ID_KEY is empty: unset it, or set the installation's secret")
        if self.environment == "production" and len(key.strip()) < 32:
            raise ValueError(
                "production needs LEADFLOW_LEAD_ID_KEY (32+ random characters): without it a lead id is the UUIDv5 "
                "of the address, and anyone holding ids can tell whether a known address is a lead"
            )
        return self

    @model_validator(mode="after")
    def _secrets_that_protect(self) -> "IntakeSettings":
        """Refuse at start what would protect nothing: an empty secret (an HMAC keyed by nothing verifies anyone's
        signature), a malformed Standard Webhooks secret (every delivery would fail), and in production a short
        one. The messages name the variable, never its value."""
        for name in PROVIDERS:
            secret = getattr(self, f"webhook_secret_{name}")
            if secret is None:
                continue
            variable = f"LEADFLOW_WEBHOOK_SECRET_{name.upper()}"
            for value in secret.get_secret_value().split(","):  # several while one is rotated
                if not value.strip():
                    raise ValueError(f"{variable} is empty: unset it to refuse {name} deliveries, or set the secret")
                if name == "generic":
                    try:
                        decode_secret(value.strip())
                    except ValueError:
                        raise ValueError(f"{variable} must be whsec_ followed by base64") from None
                if self.environment == "production" and len(value.strip()) < MIN_SECRET_LENGTH:
                    raise ValueError(
                        f"{variable} is shorter than {MIN_SECRET_LENGTH} characters; production refuses it"
                    )
        return self

    def webhook_secrets(self) -> dict[str, str]:
        """Configured secret per provider (the first, when several are given for a rotation)."""
        return {name: secrets[0] for name, secrets in self.webhook_secret_lists().items()}

    def webhook_secret_lists(self) -> dict[str, list[str]]:
        """Every configured secret per provider: `new,old` while a provider's secret is rotated."""
        found = {name: getattr(self, f"webhook_secret_{name}") for name in PROVIDERS}
        return {
            name: [part.strip() for part in secret.get_secret_value().split(",")]
            for name, secret in found.items()
            if secret is not None
        }
