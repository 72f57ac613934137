"""Intake's routes: decode, check, dispatch to the capture handler; nothing else."""

import json
import time
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.intake.api.schemas import CaptureAccepted, GenericWebhook, LeadIn
from services.intake.domain.standard_webhooks import SignatureError
from services.intake.service import CaptureResult, capture
from services.intake.webhooks.adapter import WebhookAdapter
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.http.auth import Scope, TokenAuthority
from shared.http.problems import Problem
from shared.metrics import Metrics

_JSON_TYPES = ("application/json", "application/cloudevents+json")


def intake_router(
    uow: UnitOfWorkFactory,
    tokens: TokenAuthority,
    adapters: Mapping[str, WebhookAdapter],
    secrets: Mapping[str, str],
    metrics: Metrics,
    *,
    max_body_bytes: int,
) -> APIRouter:
    """Routes for direct capture and provider webhooks."""
    router = APIRouter(prefix="/v1", tags=["intake"])

    @router.post(
        "/leads",
        status_code=202,
        response_model=CaptureAccepted,
        dependencies=[Depends(tokens.require(Scope.LEADS_WRITE))],
        summary="Capture a lead from an internal service",
    )
    async def post_lead(
        lead: LeadIn, idempotency_key: Annotated[str | None, Header(max_length=200)] = None
    ) -> JSONResponse:
        result = await capture(uow, lead.to_submission("api"), idempotency_key)
        return _accepted(result)

    @router.post(
        "/webhooks/{provider}",
        status_code=202,
        response_model=CaptureAccepted,
        summary="Receive a provider's webhook delivery",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": GenericWebhook.model_json_schema()}},
            }
        },
    )
    async def post_webhook(provider: str, request: Request) -> JSONResponse:
        adapter = adapters.get(provider)
        try:
            if adapter is None:
                raise Problem(404, "Not found", f"unknown provider {provider!r}; known: {sorted(adapters)}")
            result = await _receive(request, adapter)
        except Problem as problem:
            metrics.webhook_requests.labels(provider if adapter else "unknown", str(problem.status)).inc()
            raise
        metrics.webhook_requests.labels(provider, "202").inc()
        return _accepted(result)

    async def _receive(request: Request, adapter: WebhookAdapter) -> CaptureResult:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise Problem(415, "Unsupported media type", "send the body as application/json")
        body = await _read_limited(request, max_body_bytes)
        secret = secrets.get(adapter.name)
        if secret is None:
            raise Problem(
                503,
                "Service unavailable",
                f"no secret configured for {adapter.name!r}; set LEADFLOW_WEBHOOK_SECRET_{adapter.name.upper()}",
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            adapter.verify(headers, body, secret, now=time.time())
        except SignatureError as exc:
            raise Problem(401, "Unauthorized", str(exc)) from exc
        try:
            json.loads(body)
        except ValueError as exc:
            raise Problem(400, "Bad request", f"body is not valid JSON: {exc}") from exc
        try:
            submission = adapter.parse(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(body)"
            raise Problem(422, "Invalid request", f"{where}: {err['msg']}") from exc
        except ValueError as exc:
            raise Problem(422, "Invalid request", str(exc)) from exc
        return await capture(uow, submission, adapter.delivery_id(headers, body))

    return router


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Payload too large", f"body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Payload too large", f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _accepted(result: CaptureResult) -> JSONResponse:
    body = CaptureAccepted(event_id=result.event_id, lead_id=result.lead_id, duplicate=result.duplicate)
    return JSONResponse(body.model_dump(), status_code=202)
