"""A real webhook receiver on a local port, for the notifier's tests: it verifies Standard Webhooks signatures
with the reference library, records what it got, and can be down, slow or failing for a while."""

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.embedded.broker import free_port


@dataclass
class Received:
    """One request as the receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool | None  # None when no secret was given to check it with

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers `status` after `delay_s`; `secrets` by path verify signatures; `up()` and `down()` start and stop it."""

    status: int = 200
    delay_s: float = 0.0
    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        """Where to subscribe."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        secret = self.secrets.get(request.url.path)
        verified = None
        if secret is not None:
            try:
                Webhook(secret).verify(body, dict(request.headers))
                verified = True
            except WebhookVerificationError:
                verified = False
        self.received.append(Received(request.url.path, dict(request.headers), body, time.monotonic(), verified))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return Response(status_code=self.status)

    def up(self) -> "Receiver":
        """Listen (again, on the same port)."""
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        return self

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None

    def bodies(self, path: str = "/hook") -> list[Any]:
        """What arrived at `path`, as JSON, in order."""
        return [r.json() for r in self.received if r.path == path]
