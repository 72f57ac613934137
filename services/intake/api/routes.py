"""Intake's routes: decode, check, dispatch to the capture handler; nothing else."""

import json
import time
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from services.intake.api.schemas import CaptureAccepted, LeadIn
from services.intake.batching import AcceptBatcher
from services.intake.domain.capture import SubmissionError
from services.intake.domain.standard_webhooks import SignatureError
from services.intake.service import CaptureResult, capture
from services.intake.webhooks.adapter import HandshakeRefused, RawRequest, WebhookAdapter
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.http.auth import Scope, TokenAuthority
from shared.http.problems import Problem
from shared.http.rate_limit import RateLimiter
from shared.metrics import Metrics


def intake_router(
    uow: UnitOfWorkFactory,
    tokens: TokenAuthority,
    adapters: Mapping[str, WebhookAdapter],
    metrics: Metrics,
    batcher: AcceptBatcher,
    *,
    max_body_bytes: int,
    provider_limiter: RateLimiter | None = None,
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
        try:
            result = await capture(uow, lead.to_submission("api"), idempotency_key)
        except SubmissionError as exc:
            raise Problem(422, "Invalid request", str(exc)) from exc
        return _accepted(result)

    @router.post(
        "/webhooks/{provider}",
        status_code=202,
        response_model=CaptureAccepted,
        summary="Receive a provider's webhook delivery (typeform, hubspot, zoom, calendly, facebook, jotform, "
        "tally, webflow, generic)",
        responses={200: {"description": "a handshake answered (Zoom endpoint.url_validation)"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "multipart/form-data": {"schema": {"type": "object"}},
                },
            }
        },
    )
    async def post_webhook(provider: str, request: Request) -> JSONResponse:
        adapter = adapters.get(provider)
        label = provider if adapter else "unknown"
        try:
            if adapter is None:
                raise Problem(404, "Not found", f"unknown provider {provider!r}; known: {sorted(adapters)}")
            if provider_limiter is not None:
                provider_limiter.check(provider, f"{provider} webhooks")
            response = await receive(request, adapter, batcher, max_body_bytes)
        except Problem as problem:
            metrics.webhook_requests.labels(label, str(problem.status)).inc()
            raise
        metrics.webhook_requests.labels(label, str(response.status_code)).inc()
        return response

    @router.get(
        "/webhooks/{provider}",
        response_class=PlainTextResponse,
        summary="Answer a provider's subscription check (Meta's hub.challenge)",
    )
    async def get_webhook(provider: str, request: Request) -> PlainTextResponse:
        adapter = adapters.get(provider)
        challenge = getattr(adapter, "challenge", None)
        if adapter is None or challenge is None:
            raise Problem(404, "Not found", f"{provider!r} has no subscription check; known: ['facebook']")
        try:
            return PlainTextResponse(challenge(dict(request.query_params)))
        except HandshakeRefused as exc:
            raise Problem(403, "Forbidden", str(exc)) from exc

    return router


async def receive(
    request: Request, adapter: WebhookAdapter, batcher: AcceptBatcher, max_body_bytes: int
) -> JSONResponse:
    """Check, verify, parse and accept one delivery; every refusal is a problem naming what to fix."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in adapter.content_types:
        raise Problem(415, "Unsupported media type", f"{adapter.name} sends {' or '.join(adapter.content_types)}")
    body = await _read_limited(request, max_body_bytes)
    if adapter.secret is None:
        raise Problem(
            503,
            "Service unavailable",
            f"no secret configured for {adapter.name!r}; set LEADFLOW_WEBHOOK_SECRET_{adapter.name.upper()}",
        )
    raw = RawRequest(
        method=request.method,
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )
    try:
        adapter.verify(raw, now=time.time())
    except SignatureError as exc:
        raise Problem(401, "Unauthorized", str(exc)) from exc
    if content_type == "application/json":
        try:
            json.loads(body)
        except ValueError as exc:
            raise Problem(400, "Bad request", f"body is not valid JSON: {exc}") from exc
    try:
        parsed = adapter.parse(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        raise Problem(422, "Invalid request", f"{where}: {err['msg']}") from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise Problem(422, "Invalid request", f"not a {adapter.name} delivery this service understands: {exc}") from exc
    if parsed.reply is not None:
        return JSONResponse(parsed.reply, status_code=200)
    return _accepted(await batcher.accept(adapter.name, parsed))


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
    body = CaptureAccepted(
        event_id=result.event_id, lead_id=result.lead_id, duplicate=result.duplicate, pending=result.pending
    )
    return JSONResponse(body.model_dump(), status_code=202)
