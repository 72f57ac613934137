"""While a provider's secret is rotated, deliveries signed with the old or the new one are both accepted."""

import time

import pytest

from services.intake.domain.mapping import FieldMapping
from services.intake.domain.standard_webhooks import SignatureError
from services.intake.settings import IntakeSettings
from services.intake.webhooks.contract import RawRequest, WebhookAdapter
from services.intake.webhooks.registry import build_adapters
from services.rules import DEFAULT_RULES
from shared.rules import load_rules_section
from tests.support import GENERIC_SECRET
from tests.webhook_senders import fixture, signed

MAPPING = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)[0]
NEW, OLD = "tf-new-secret-2026-12", "tf-old-secret-2026-06"


def delivered(adapters: dict[str, WebhookAdapter], provider: str, secret: str) -> None:
    now = time.time()
    body, headers, _ = signed(provider, fixture(provider), now=now, secret=secret)
    request = RawRequest("POST", "http://test/v1/webhooks/x", headers, {}, body)
    adapters[provider].verify(request, now=now)
    assert adapters[provider].parse(request).submissions


def test_the_old_and_the_new_secret_both_verify_and_nothing_else_does() -> None:
    adapters = build_adapters(IntakeSettings(webhook_secret_typeform=f"{NEW}, {OLD}"), MAPPING)
    delivered(adapters, "typeform", NEW)
    delivered(adapters, "typeform", OLD)
    with pytest.raises(SignatureError):
        delivered(adapters, "typeform", "tf-someone-elses-secret")
    assert IntakeSettings(webhook_secret_typeform=f"{NEW},{OLD}").webhook_secrets() == {"typeform": NEW}


def test_every_part_of_a_rotation_is_checked_at_start() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="LEADFLOW_WEBHOOK_SECRET_TYPEFORM is empty"):
        IntakeSettings(webhook_secret_typeform=f"{NEW},")
    with pytest.raises(ValidationError, match="whsec_ followed by base64"):
        IntakeSettings(webhook_secret_generic=f"{GENERIC_SECRET},whsec_***")
