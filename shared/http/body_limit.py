"""One bound on request bodies for every route of a service, applied before routing and authentication.

Without it, `POST /v1/leads` and every other JSON route read and parsed the whole body before the token was
checked, so anyone could make a service hold gigabytes. A declared length over the limit is answered 413 at
once; an undeclared (chunked) body is counted as it is read, and the moment it passes the limit the client gets
413 and the application sees the client gone.
"""

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import problem_response


class BodyLimit:
    """ASGI middleware: `limit` bytes per request body, or a larger one for the path prefixes in `overrides`."""

    def __init__(self, app: ASGIApp, limit: int, overrides: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.overrides = dict(overrides or {})

    def limit_for(self, path: str) -> int:
        """The bound of a path: the longest matching override, else the default."""
        matches = [prefix for prefix in self.overrides if path.startswith(prefix)]
        return self.overrides[max(matches, key=len)] if matches else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, f"body is {declared} bytes; the limit is {limit}")
            return
        received = 0
        refused = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _too_large(send, f"body exceeds the limit of {limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:  # the 413 is already the answer
                await send(message)

        await self.app(scope, counted, guarded)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _too_large(send: Send, detail: str) -> None:
    response = problem_response(413, "Payload too large", detail)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
