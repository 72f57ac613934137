"""Every provider adapter, built from the settings and the field mapping."""

from services.intake.domain.mapping import FieldMapping
from services.intake.settings import IntakeSettings
from services.intake.webhooks.adapter import WebhookAdapter
from services.intake.webhooks.calendly import CalendlyAdapter
from services.intake.webhooks.facebook import FacebookAdapter
from services.intake.webhooks.generic import GenericAdapter
from services.intake.webhooks.hubspot import HubSpotAdapter
from services.intake.webhooks.jotform import JotformAdapter
from services.intake.webhooks.tally import TallyAdapter
from services.intake.webhooks.typeform import TypeformAdapter
from services.intake.webhooks.webflow import WebflowAdapter
from services.intake.webhooks.zoom import ZoomAdapter


def build_adapters(settings: IntakeSettings, mapping: FieldMapping) -> dict[str, WebhookAdapter]:
    """Provider name → adapter; a provider without a secret answers 503 until one is set."""
    secret = settings.webhook_secrets().get
    adapters: list[WebhookAdapter] = [
        GenericAdapter(secret("generic"), settings.webhook_tolerance_s),
        TypeformAdapter(secret("typeform"), mapping),
        HubSpotAdapter(secret("hubspot"), mapping, settings.public_url),
        ZoomAdapter(secret("zoom"), mapping, settings.webhook_tolerance_s),
        CalendlyAdapter(secret("calendly"), mapping),
        FacebookAdapter(secret("facebook"), _plain(settings.facebook_verify_token)),
        JotformAdapter(secret("jotform"), mapping),
        TallyAdapter(secret("tally"), mapping),
        WebflowAdapter(secret("webflow"), mapping),
    ]
    return {adapter.name: adapter for adapter in adapters}


def _plain(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else None
