"""Calls to the services' APIs on behalf of the signed-in person (their own bearer token is forwarded)."""

from typing import Any

import httpx


class Refused(Exception):
    """A service answered with an error; `detail` is its problem+json detail."""

    def __init__(self, service: str, status: int, detail: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service = service
        self.status = status
        self.detail = detail
        self.body = body or {}


class Unavailable(Exception):
    """A service did not answer (down, or slower than the timeout)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} is unavailable: {reason}")
        self.service = service


class Upstream:
    """One connection pool to every service."""

    def __init__(self, urls: dict[str, str], timeout_s: float) -> None:
        self._urls = urls
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def get(self, service: str, path: str, token: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON a service answers to a GET."""
        return await self._send("GET", service, path, token, params=params)

    async def post(self, service: str, path: str, token: str, body: dict[str, Any]) -> Any:
        """The JSON a service answers to a POST."""
        return await self._send("POST", service, path, token, json=body)

    async def _send(self, method: str, service: str, path: str, token: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(
                method, self._urls[service] + path, headers={"authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.TransportError as exc:
            raise Unavailable(service, type(exc).__name__) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            body = body if isinstance(body, dict) else {}
            detail = str(body.get("detail") or response.reason_phrase)
            if response.status_code in (502, 503, 504):
                raise Unavailable(service, detail)
            raise Refused(service, response.status_code, detail, body)
        return response.json()

    async def close(self) -> None:
        """Close the pool."""
        await self._client.aclose()
