"""RFC 9457 problem details for every error a service returns."""

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger(__name__)


class Problem(Exception):
    """An error with a status and a detail that tells the caller what to fix."""

    def __init__(
        self, status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, a problem+json response."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = _TITLES.get(exc.status_code, "Error")
        return problem_response(exc.status_code, title, str(exc.detail), headers=exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"location": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "Invalid request", detail, errors=errors)

    async def on_database_down(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not _unreachable(exc):
            return await on_unexpected(request, exc)
        log.warning("http.database_unavailable", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "the database is unreachable right now; nothing was stored, retry shortly",
            headers={"Retry-After": "2"},
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path)
        return problem_response(500, "Internal error", "an unexpected error occurred; it has been logged")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DBAPIError, on_database_down)
    app.add_exception_handler(ConnectionError, on_database_down)
    app.add_exception_handler(Exception, on_unexpected)


def _unreachable(exc: DBAPIError) -> bool:
    """A lost or refused connection (SQLSTATE 08…, 57P…: shutting down), not a statement the database refused."""
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, OSError | ConnectionError):
            return True
        if str(getattr(cause, "sqlstate", "") or "").startswith(("08", "57P")):
            return True
        if "connection" in type(cause).__name__.lower() or "cannotconnect" in type(cause).__name__.lower():
            return True
        cause = cause.__cause__
    return False


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    503: "Service unavailable",
}
