"""POST /v1/webhooks/{provider} served straight from ASGI, in front of FastAPI's routing.

Webhooks are intake's hot path, and FastAPI's route matching, dependency solving and request wrapping cost more
than a bare ASGI callable does (bench/intake.py measures it). The lane hands the delivery to the WebhookReceiver,
answers errors with the same problem+json as the app, and names the route template for request metrics.
Everything else (and any other method or path) goes on to the app. The path is documented by its route in
api/routes.py.
"""

from dataclasses import dataclass

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.api.webhook_receiver import Delivery, WebhookReceiver
from shared.http.problems import problem_for

PREFIX = "/v1/webhooks/"


@dataclass(frozen=True)
class _RouteTemplate:
    """What request metrics read of a matched route: its path template."""

    path: str


_ROUTE = _RouteTemplate(PREFIX + "{provider}")


class WebhookLane:
    """ASGI middleware serving webhook deliveries with `receiver`."""

    def __init__(self, app: ASGIApp, receiver: WebhookReceiver) -> None:
        self.app = app
        self._receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = _provider(scope)
        if provider is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        try:
            response = await self._receiver.receive(Delivery.from_asgi(provider, scope, receive))
        except ClientDisconnect:
            return  # nobody is left to answer; nothing was accepted
        except Exception as exc:  # noqa: BLE001 - every failure is answered as problem+json, as FastAPI's handlers do
            response = problem_for(exc, scope["path"])
        await response(scope, receive, send)


def _provider(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    provider = path[len(PREFIX) :]
    return provider if provider and "/" not in provider else None
