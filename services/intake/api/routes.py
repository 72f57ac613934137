"""Intake's routes: decode, check, dispatch to the capture handler; nothing else."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.intake.api.schemas import CaptureAccepted, LeadIn
from services.intake.api.webhook_receiver import Delivery, WebhookReceiver, accepted
from services.intake.commands.capture import IdempotencyMismatch, capture
from services.intake.domain.capture import SubmissionError
from services.intake.webhooks.contract import HandshakeRefused
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem


def intake_router(
    uow: UnitOfWorkFactory,
    tokens: TokenAuthority,
    receiver: WebhookReceiver,
) -> APIRouter:
    """Routes for direct capture and provider webhooks."""
    router = APIRouter(prefix="/v1", tags=["intake"])

    @router.post(
        "/leads",
        status_code=202,
        response_model=CaptureAccepted,
        dependencies=[Depends(tokens.require(Scope.LEADS_WRITE))],
        summary="Capture a lead from an internal service",
        responses=declared(_409="the Idempotency-Key was used before, by this token, with another lead"),
    )
    async def post_lead(
        lead: LeadIn, request: Request, idempotency_key: Annotated[str | None, Header(max_length=200)] = None
    ) -> JSONResponse:
        # A key is the caller's: scoped by its token (another caller's same key is another request) and bound
        # to this request (the same key with another body is a 409, not the first answer again).
        delivery_id = f"{_caller(request)}:{idempotency_key}" if idempotency_key else None
        request_hash = hashlib.sha256(lead.model_dump_json().encode()).hexdigest()
        try:
            result = await capture(uow, lead.to_submission("api"), delivery_id, request_hash)
        except SubmissionError as exc:
            raise Problem(422, "Invalid request", str(exc)) from exc
        except IdempotencyMismatch as exc:
            raise Problem(409, "Conflict", f"{exc}; use a new key for a new lead") from exc
        return accepted(result)

    @router.post(
        "/webhooks/{provider}",
        status_code=202,
        response_model=CaptureAccepted,
        summary="Receive a provider's webhook delivery (typeform, hubspot, zoom, calendly, facebook, jotform, "
        "tally, webflow, generic)",
        responses={
            200: {"description": "a handshake answered (Zoom endpoint.url_validation)"},
            **declared(
                _400="the body is not what the provider sends",
                _401="the provider's signature is missing or does not match",
                _404="an unknown provider",
                _413="the body exceeds the provider's limit",
                _415="not a content type the provider sends",
                _429="too many deliveries from this address failed verification",
            ),
        },
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
        # The document of the path: the app built by bootstrap.py answers it in WebhookLane, before routing, with
        # this same receiver, so this body runs only where a router is mounted without the lane.
        return await receiver.receive(Delivery.from_asgi(provider, request.scope, request.receive))

    @router.get(
        "/webhooks/{provider}",
        response_class=PlainTextResponse,
        summary="Answer a provider's subscription check (Meta's hub.challenge)",
        responses=declared(_403="the verify token does not match", _404="the provider has no subscription check"),
    )
    async def get_webhook(provider: str, request: Request) -> PlainTextResponse:
        adapter = receiver.adapters.get(provider)
        challenge = getattr(adapter, "challenge", None)
        if adapter is None or challenge is None:
            raise Problem(404, "Not found", f"{provider!r} has no subscription check; known: ['facebook']")
        try:
            return PlainTextResponse(challenge(dict(request.query_params)))
        except HandshakeRefused as exc:
            raise Problem(403, "Forbidden", str(exc)) from exc

    return router


def _caller(request: Request) -> str:
    """Who sent the request, as a short digest of its bearer token (the dependency has checked the token)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return hashlib.sha256(token.encode()).hexdigest()[:16]
