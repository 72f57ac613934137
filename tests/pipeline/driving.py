"""Driving the running pipeline over HTTP, as its users would."""

from typing import Any

import httpx

from services.embedded.dev import EmbeddedPipeline
from tests.support import bearer, signed_webhook


def url(pipeline: EmbeddedPipeline, name: str) -> str:
    return pipeline.processes[name].url


def get_json(address: str) -> Any:
    response = httpx.get(address, headers=bearer(), timeout=10)
    return response.json() if response.status_code == 200 else None


def post_webhook(pipeline: EmbeddedPipeline, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    body, headers = signed_webhook(data, **kwargs)
    response = httpx.post(f"{url(pipeline, 'intake')}/v1/webhooks/generic", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]
