from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intake.domain.capture import Submission, company_domain, to_captured
from services.intake.domain.profile import merge_profile
from shared.settings import ServiceSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_production_refuses_missing_or_weak_tokens() -> None:
    with pytest.raises(ValidationError, match="production needs"):
        ServiceSettings(environment="production")
    with pytest.raises(ValidationError, match="at least 24"):
        ServiceSettings(environment="production", api_token="changeme")
    with pytest.raises(ValidationError, match="LEADFLOW_METRICS_TOKEN"):
        ServiceSettings(environment="production", api_token="x" * 32)  # /metrics shows revenue: a token too
    ServiceSettings(environment="production", api_token="x" * 32, metrics_token="m" * 32)


def test_unknown_database_driver_is_refused() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL must start with"):
        ServiceSettings(database_url="mysql://x")


def test_free_mail_has_no_company_domain() -> None:
    assert company_domain("someone@gmail.com") is None
    assert company_domain("Someone@Acme.io") == "acme.io"


def test_captured_payload_is_normalised() -> None:
    payload = to_captured(Submission(email=" Ann@Acme.io ", provider="api", occurred_at=T0, company="  Acme   Inc "))
    assert payload.contact.email == "ann@acme.io"
    assert payload.company.name == "Acme Inc" and payload.company.domain == "acme.io"
    assert payload.free_mail is False


def test_later_submission_fills_and_updates_but_older_never_overwrites() -> None:
    first = merge_profile(None, Submission(email="a@acme.io", provider="x", occurred_at=T0, job_title="Engineer"))
    newer = merge_profile(
        first,
        Submission(
            email="a@acme.io", provider="y", occurred_at=T0 + timedelta(days=2), job_title="CTO", phone="+1 555"
        ),
    )
    assert newer["job_title"] == "CTO" and newer["phone"] == "+1 555" and newer["submissions"] == 2
    older = merge_profile(
        newer,
        Submission(
            email="a@acme.io", provider="z", occurred_at=T0 + timedelta(days=1), job_title="Intern", country="DE"
        ),
    )
    assert older["job_title"] == "CTO"  # older fact does not overwrite a newer one
    assert older["country"] == "DE"  # but fills what was empty
    assert older["last_seen_at"] == T0 + timedelta(days=2)


def test_logs_never_carry_emails_or_phone_numbers() -> None:
    from shared.logging import redact, redact_pii

    line = redact("email 'Priya.Raman@Northwind.com' is bad; call +44 20 7946 0321")
    assert "Northwind" not in line and "7946" not in line
    assert line == redact("email 'priya.raman@northwind.com' is bad; call <phone>")  # same person, same hash
    event = redact_pii(None, "info", {"event": "x", "error": "ana@x.io", "lead_id": "6f1c"})
    assert "ana@x.io" not in event["error"] and event["lead_id"] == "6f1c"
    kept = "bind on 127.0.0.1:8000 and 192.168.100.200 at 2026-11-27 (2026.11.27), lead 660737, order 12345678, v1.2.3"
    assert redact(kept) == kept


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (555) 123-4567",
        "(555) 123 4567",
        "555-123-4567",
        "555.123.4567",
        "+1.555.123.4567",
        "+15551234567",
        "tel:+15551234567",
        "+44 20 7946 0321",
        "0049 30 12345678",
        "+33 1 23 45 67 89",
        "+91 98765 43210",
    ],
)
def test_phone_numbers_as_people_write_them_never_reach_a_log_line(phone: str) -> None:
    from shared.logging import redact_pii

    digits = "".join(c for c in phone if c.isdigit())
    event = redact_pii(
        None,
        "info",
        {"event": "x", "error": f"bad phone {phone}!", "row": {"answers": {"Phone": phone}, "tags": [phone]}},
    )
    assert digits[-7:] not in "".join(c for c in str(event) if c.isdigit()), event


def test_ids_in_logs_are_not_taken_for_phone_numbers() -> None:
    from shared.logging import redact_pii

    event = redact_pii(
        None,
        "info",
        {"external_id": "444444444444", "lead_ids": ["555555555555"], "error": "call 444 444 444 444", "event": "x"},
    )
    assert event["external_id"] == "444444444444" and event["error"] == "call <phone>"
    assert event["lead_ids"] == ["555555555555"]


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (
            "ConnectError reaching https://graph.facebook.com/v21.0/123?fields=x&access_token=EAAGm0PX4ZCps",
            "https://graph.facebook.com/v21.0/123?fields=x&access_token=***",
            "EAAGm0PX4ZCps",
        ),
        (
            "could not connect: postgresql+asyncpg://leadflow:s3cr3t-pw@db.internal:5432/leadflow",
            "postgresql+asyncpg://***@db.internal:5432/leadflow",
            "s3cr3t-pw",
        ),
        ("GET /cb?code=4%2F0AX&state=ok HTTP/1.1", "/cb?code=***&state=ok", "4%2F0AX"),
        ("webhook at https://x.io/hook?token=jf-url-token-8c21", "https://x.io/hook?token=***", "jf-url-token-8c21"),
    ],
)
def test_credentials_in_urls_never_reach_a_log_line(text: str, kept: str, gone: str) -> None:
    from shared.logging import redact, redact_pii

    assert kept in redact(text) and gone not in redact(text)
    assert gone not in str(redact_pii(None, "error", {"event": "fetch.failed", "error": text}))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"webhook_secret_typeform": "   "}, "LEADFLOW_WEBHOOK_SECRET_TYPEFORM is empty"),
        ({"webhook_secret_generic": "whsec_not*base64*at-all"}, "LEADFLOW_WEBHOOK_SECRET_GENERIC must be whsec_"),
        (
            {
                "environment": "production",
                "api_token": "p" * 32,
                "metrics_token": "m" * 32,
                "lead_id_key": "k" * 32,
                "webhook_secret_zoom": "zm-short-9",
            },
            "LEADFLOW_WEBHOOK_SECRET_ZOOM is shorter than 16",
        ),
    ],
)
def test_webhook_secrets_that_protect_nothing_are_refused_at_start(overrides: dict[str, str], named: str) -> None:
    from pydantic import ValidationError

    from services.intake.settings import IntakeSettings
    from shared.settings import settings_errors

    with pytest.raises(ValidationError) as caught:
        IntakeSettings(**overrides)  # type: ignore[arg-type]
    message = settings_errors(caught.value)
    assert named in message
    for value in overrides.values():
        if value not in ("production",):
            assert value not in message  # the variable is named, its value never shown


def test_a_long_secret_is_accepted_in_production() -> None:
    from services.intake.settings import IntakeSettings

    settings = IntakeSettings(
        environment="production",
        api_token="p" * 32,
        metrics_token="m" * 32,
        lead_id_key="k" * 32,
        webhook_secret_zoom="z" * 22,
    )
    assert settings.webhook_secrets() == {"zoom": "z" * 22}


def test_settings_errors_name_the_variable_without_its_value() -> None:
    from pydantic import ValidationError

    from shared.settings import ServiceSettings, settings_errors

    with pytest.raises(ValidationError) as caught:
        ServiceSettings(database_url="mysql://leadflow:hunter2-db-pw@db/leadflow")
    assert "hunter2-db-pw" in str(caught.value)  # pydantic's own text would print it
    assert "hunter2-db-pw" not in settings_errors(caught.value)
    assert "LEADFLOW_DATABASE_URL" in settings_errors(caught.value)


async def test_metrics_need_the_scrape_token_when_one_is_set() -> None:
    import httpx
    from fastapi import FastAPI

    from shared.http.operations import operations_router
    from shared.http.problems import install_problem_handlers
    from shared.metrics import Metrics

    async def ready() -> bool:
        return True

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(operations_router(Metrics("test"), {"database": ready}, dict, "m" * 32))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
        scraped = await client.get("/metrics", headers={"authorization": "Bearer " + "m" * 32})
        assert scraped.status_code == 200 and "leadflow" in scraped.text
        assert (await client.get("/healthz")).status_code == 200  # probes stay open


def test_serve_is_production_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service started by hand with a forgotten variable must not run with development's open docs."""
    from typer.testing import CliRunner

    from services.cli import app

    for name in ("LEADFLOW_ENVIRONMENT", "LEADFLOW_API_TOKEN", "LEADFLOW_API_TOKENS", "LEADFLOW_METRICS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    refused = CliRunner().invoke(app, ["serve", "forecast"], env={"LEADFLOW_API_TOKEN": "short"})
    assert refused.exit_code == 2
    assert "production API tokens must be at least 24 random characters" in refused.output
    assert "short" not in refused.output.replace("shorter", "")  # the value itself is never printed


def test_every_replica_measures_its_outbox_on_a_schedule_of_its_own() -> None:
    from shared.runtime import build_runtime
    from shared.settings import ServiceSettings

    runtime = build_runtime("intake", ServiceSettings(gauge_refresh_s=7))
    jobs = {name: interval for name, interval, _ in runtime.periodic}
    assert jobs["outbox.gauges"] == 7
