"""Schemathesis against every service's published OpenAPI: whatever it sends, no 5xx, every answer (errors too)
is one the document declares, in the declared media type and schema, and refusals store nothing."""

from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from services.embedded.dev import EmbeddedPipeline
from tests.pipeline.driving import scalar
from tests.support import bearer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
# The published documents, which `leadflow contracts --check` keeps identical to what the code serves.
intake_schema = schemathesis.openapi.from_path(DOCS / "intake.json")
scorer_schema = schemathesis.openapi.from_path(DOCS / "scorer.json")
qualifier_schema = schemathesis.openapi.from_path(DOCS / "qualifier.json")
forecast_schema = schemathesis.openapi.from_path(DOCS / "forecast.json")


PROVIDERS = ("typeform", "hubspot", "zoom", "calendly", "facebook", "jotform", "tally", "webflow", "generic")
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def _check(pipeline: EmbeddedPipeline, service: str, case: Any) -> None:
    response = case.call(base_url=pipeline.processes[service].url, headers=bearer())
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), (case.path, response.text[:200])
    # The document must say what the route really answers, so /docs and generated clients are right.
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )


@intake_schema.parametrize()
@FUZZ
def test_intake_never_fails_with_a_server_error(pipeline: EmbeddedPipeline, case: Any) -> None:
    _check(pipeline, "intake", case)


@scorer_schema.parametrize()
@FUZZ
def test_scorer_never_fails_with_a_server_error(pipeline: EmbeddedPipeline, case: Any) -> None:
    _check(pipeline, "scorer", case)


@qualifier_schema.parametrize()
@FUZZ
def test_qualifier_never_fails_with_a_server_error(pipeline: EmbeddedPipeline, case: Any) -> None:
    _check(pipeline, "qualifier", case)


@forecast_schema.parametrize()
@FUZZ
def test_forecast_never_fails_with_a_server_error(pipeline: EmbeddedPipeline, case: Any) -> None:
    _check(pipeline, "forecast", case)


def test_unsigned_webhooks_store_nothing(pipeline: EmbeddedPipeline, module_database_url: str) -> None:
    """An unsigned delivery (what the fuzz above sends, and these) never gets past the signature check, so no
    delivery and no event comes from it."""
    paths = [f"/v1/webhooks/{provider}" for provider in PROVIDERS]
    body = {"email": "unsigned@acme-industries.com", "eventType": "FORM_RESPONSE", "data": {}}
    for path in paths:
        response = httpx.post(f"{pipeline.processes['intake'].url}{path}", json=body, timeout=10)
        # Refused: 401 unsigned, 415 in a shape the provider never sends, 503 where no secret is configured.
        assert response.status_code in (401, 415, 503), (path, response.status_code, response.text[:200])
        assert response.headers["content-type"].startswith("application/problem+json")
    deliveries = scalar(module_database_url, "intake", "SELECT count(*) FROM deliveries WHERE provider <> 'api'")
    assert deliveries == 0
