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
        # The schema does not depend on the deployment, only on the code.
        app = spec.build_app(spec.settings(environment="development"))
        documents[f"openapi/{name}.json"] = app.openapi()
    return {path: json.dumps(doc, indent=2, sort_keys=True) + "\n" for path, doc in documents.items()}
