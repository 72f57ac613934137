"""Request counts and latency by route template, as plain ASGI middleware (no per-request task or stream copy)."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import Metrics


class RequestMetrics:
    """Counts every HTTP request by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_latency.labels(method, template).observe(time.perf_counter() - started)
