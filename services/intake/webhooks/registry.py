"""Every provider adapter, built from the settings and the field mapping."""

from collections.abc import Callable
from typing import Any

from services.intake.domain.mapping import FieldMapping
from services.intake.domain.standard_webhooks import SignatureError
from services.intake.settings import IntakeSettings
from services.intake.webhooks.calendly import CalendlyAdapter
from services.intake.webhooks.contract import Parsed, RawRequest, WebhookAdapter
from services.intake.webhooks.facebook import FacebookAdapter
from services.intake.webhooks.generic import GenericAdapter
from services.intake.webhooks.hubspot import HubSpotAdapter
from services.intake.webhooks.jotform import JotformAdapter
from services.intake.webhooks.tally import TallyAdapter
from services.intake.webhooks.typeform import TypeformAdapter
from services.intake.webhooks.webflow import WebflowAdapter
from services.intake.webhooks.zoom import ZoomAdapter


def build_adapters(settings: IntakeSettings, mapping: FieldMapping) -> dict[str, WebhookAdapter]:
    """Provider name → adapter; a provider without a secret answers 503 until one is set. A secret given as
    several, comma-separated (`new,old` while a provider's secret is rotated), accepts deliveries signed with any."""
    tolerance = settings.webhook_tolerance_s
    builders: dict[str, Callable[[str | None], WebhookAdapter]] = {
        "generic": lambda s: GenericAdapter(s, tolerance),
        "typeform": lambda s: TypeformAdapter(s, mapping),
        "hubspot": lambda s: HubSpotAdapter(s, mapping, settings.public_url),
        "zoom": lambda s: ZoomAdapter(s, mapping, tolerance),
        "calendly": lambda s: CalendlyAdapter(s, mapping),
        "facebook": lambda s: FacebookAdapter(s, _plain(settings.facebook_verify_token)),
        "jotform": lambda s: JotformAdapter(s, mapping),
        "tally": lambda s: TallyAdapter(s, mapping),
        "webflow": lambda s: WebflowAdapter(s, mapping),
    }
    secrets = settings.webhook_secret_lists()
    adapters: dict[str, WebhookAdapter] = {}
    for name, build in builders.items():
        configured = secrets.get(name, [])
        if len(configured) > 1:
            adapters[name] = Rotating([build(secret) for secret in configured])
        else:
            adapters[name] = build(configured[0] if configured else None)
    return adapters


class Rotating:
    """One provider with several secrets while one is rotated: a delivery verifies against any of them; the
    rest (parsing, Meta's handshake) is the first adapter's."""

    def __init__(self, adapters: list[WebhookAdapter]) -> None:
        self._adapters = adapters
        first = adapters[0]
        self.name, self.content_types, self.secret = first.name, first.content_types, first.secret

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Accept the delivery when any configured secret verifies it; else the first secret's refusal."""
        refusals: list[SignatureError] = []
        for adapter in self._adapters:
            try:
                adapter.verify(request, now=now)
                return
            except SignatureError as exc:
                refusals.append(exc)
        raise refusals[0]

    def parse(self, request: RawRequest) -> Parsed:
        """Parsing does not depend on the secret."""
        return self._adapters[0].parse(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapters[0], name)


def _plain(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else None
