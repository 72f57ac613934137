"""The published contracts, generated from the code: AsyncAPI for the events, OpenAPI per service."""

import json
from importlib.metadata import version

from services.registry import SERVICE_NAMES, service
from shared.events.asyncapi import asyncapi_document


def generated_contracts() -> dict[str, str]:
    """Relative path → JSON text of every contract document."""
    documents: dict[str, object] = {"asyncapi.json": asyncapi_document(version("leadflow"))}
    for name in SERVICE_NAMES:
        spec = service(name)
        # A throwaway token: building the app needs settings, the schema does not depend on them.
        app = spec.build_app(spec.settings(api_token="contract-generation-only-token"))
        documents[f"openapi/{name}.json"] = app.openapi()
    return {path: json.dumps(doc, indent=2, sort_keys=True) + "\n" for path, doc in documents.items()}
