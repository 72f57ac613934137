"""One webhook delivery from bytes to answer: check, verify, parse, accept. Framework-free, so that the
FastAPI route and the ASGI lane in front of it (webhook_lane.py) serve a delivery exactly alike."""

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.datastructures import URL, QueryParams
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope

from services.intake.api.group_commit import AcceptBatcher
from services.intake.commands.capture import CaptureResult
from services.intake.commands.quarantine import Quarantine, describe
from services.intake.domain.refused import Refused
from services.intake.domain.standard_webhooks import SignatureError
from services.intake.webhooks.contract import RawRequest, WebhookAdapter
from services.intake.webhooks.payload import load_json
from shared.http.problems import Problem
from shared.http.rate_limit import RateLimiter, too_many
from shared.metrics import Metrics


@dataclass(frozen=True)
class Delivery:
    """A POST to /v1/webhooks/{provider} as it arrived; the body is read (within the limit) by the receiver."""

    provider: str
    url: str
    headers: dict[str, str]  # names lower-cased
    query: dict[str, str]
    body: AsyncIterator[bytes]
    client: str = ""  # the sender's address, for limiting failed verifications

    @classmethod
    def from_asgi(cls, provider: str, scope: Scope, receive: Receive) -> "Delivery":
        """The delivery an ASGI request carries (ASGI header names are lower-case already)."""
        return cls(
            provider=provider,
            url=str(URL(scope=scope)),
            headers={name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
            query=dict(QueryParams(scope["query_string"])),
            body=_body(receive),
            client=(scope.get("client") or ("", 0))[0],
        )


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


class WebhookReceiver:
    """Answers deliveries; every refusal is a Problem naming what to fix."""

    def __init__(
        self,
        adapters: Mapping[str, WebhookAdapter],
        batcher: AcceptBatcher,
        quarantine: Quarantine,
        metrics: Metrics,
        *,
        max_body_bytes: int,
        provider_limiter: RateLimiter | None = None,
        failure_limiter: RateLimiter | None = None,
    ) -> None:
        self.adapters = adapters
        self._batcher = batcher
        self._quarantine = quarantine
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._provider_limiter = provider_limiter
        self._failure_limiter = failure_limiter

    async def receive(self, delivery: Delivery) -> JSONResponse:
        """The response to one delivery (202 accepted, 200 for a handshake), counted by provider and status."""
        adapter = self.adapters.get(delivery.provider)
        label = delivery.provider if adapter else "unknown"
        try:
            if adapter is None:
                raise Problem(
                    404, "Not found", f"unknown provider {delivery.provider!r}; known: {sorted(self.adapters)}"
                )
            if self._failure_limiter is not None:
                wait = self._failure_limiter.waiting(delivery.client)
                if wait is not None:
                    raise too_many("too many deliveries from this address failed verification", wait)
            response = await self._receive(delivery, adapter)
        except Problem as problem:
            self._metrics.webhook_requests.labels(label, str(problem.status)).inc()
            raise
        self._metrics.webhook_requests.labels(label, str(response.status_code)).inc()
        return response

    async def _receive(self, delivery: Delivery, adapter: WebhookAdapter) -> JSONResponse:
        content_type = delivery.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in adapter.content_types:
            raise Problem(415, "Unsupported media type", f"{adapter.name} sends {' or '.join(adapter.content_types)}")
        body = await self._read_limited(delivery)
        if adapter.secret is None:
            raise Problem(
                503,
                "Service unavailable",
                f"no secret configured for {adapter.name!r}; set LEADFLOW_WEBHOOK_SECRET_{adapter.name.upper()}",
            )
        raw = RawRequest(method="POST", url=delivery.url, headers=delivery.headers, query=delivery.query, body=body)
        try:
            adapter.verify(raw, now=time.time())
        except SignatureError as exc:
            if self._failure_limiter is not None:
                self._failure_limiter.retry_after(delivery.client)  # spends this address's allowance of failures
            raise Problem(401, "Unauthorized", str(exc)) from exc
        # Charged only once the provider is proven: a stranger's junk cannot spend a provider's allowance.
        if self._provider_limiter is not None:
            self._provider_limiter.check(delivery.provider, f"{delivery.provider} webhooks")
        if content_type == "application/json":
            try:
                load_json(body)  # its depth is bounded before the decoder sees it
            except Refused as exc:
                raise Problem(400, "Bad request", f"body is not valid JSON: {exc}") from exc
        try:
            parsed = adapter.parse(raw)
        except (Refused, ValidationError) as exc:
            # Authentic, so kept rather than refused: a refused provider retries, then disables the webhook.
            held_id = await self._quarantine.hold(raw, adapter.name, exc)
            return quarantined(held_id, describe(exc))
        # Anything else an adapter raises is a bug: it reaches the problem handler, which logs it as a 500.
        if parsed.reply is not None:
            return JSONResponse(parsed.reply, status_code=200)
        return accepted(await self._batcher.accept(adapter.name, parsed))

    async def _read_limited(self, delivery: Delivery) -> bytes:
        limit = self._max_body_bytes
        declared = delivery.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise Problem(413, "Payload too large", f"body is {declared} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in delivery.body:
            size += len(chunk)
            if size > limit:
                raise Problem(413, "Payload too large", f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def quarantined(held_id: int, reason: str) -> JSONResponse:
    """202 for an authentic delivery that waits in quarantine: the provider must not retry it."""
    body = {
        "event_id": None,
        "lead_id": None,
        "duplicate": False,
        "pending": 0,
        "quarantined": True,
        "quarantine_id": held_id,
        "reason": reason,
    }
    return JSONResponse(body, status_code=202)


def accepted(result: CaptureResult) -> JSONResponse:
    """202 with the (original, for a retry) ids: the CaptureAccepted schema."""
    body = {
        "event_id": result.event_id,
        "lead_id": result.lead_id,
        "duplicate": result.duplicate,
        "pending": result.pending,
    }
    return JSONResponse(body, status_code=202)
