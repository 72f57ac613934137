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

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return problem_for(exc, request.url.path)

    for kind in (Problem, StarletteHTTPException, RequestValidationError, DBAPIError, ConnectionError, Exception):
        app.add_exception_handler(kind, handle)


def problem_for(exc: Exception, path: str) -> JSONResponse:
    """The problem+json answer to an exception raised while serving `path` (also used outside FastAPI's
    routing, by intake's webhook lane, so both answer alike)."""
    if isinstance(exc, Problem):
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)
    if isinstance(exc, StarletteHTTPException):
        title = _TITLES.get(exc.status_code, "Error")
        return problem_response(exc.status_code, title, str(exc.detail), headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        errors = [{"location": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "Invalid request", detail, errors=errors)
    if isinstance(exc, ConnectionError) or (isinstance(exc, DBAPIError) and _unreachable(exc)):
        log.warning("http.database_unavailable", path=path, error=type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "the database is unreachable right now; nothing was stored, retry shortly",
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, DBAPIError) and _sqlstate(exc) in _NOT_TEXT:
        return problem_response(422, "Invalid request", "a text field holds a NUL character or bytes that are not text")
    if isinstance(exc, DBAPIError):
        # By type and SQLSTATE only: the driver's text quotes the statement's values (names, answers, addresses).
        log.error("http.database_error", path=path, error=database_error(exc))
    else:
        log.error("http.unhandled_error", path=path, exc_info=exc)
    return problem_response(500, "Internal error", "an unexpected error occurred; it has been logged")


def database_error(exc: DBAPIError) -> str:
    """A database error as it may be logged: the driver's exception type and the SQLSTATE, never its text."""
    sqlstate = _sqlstate(exc)
    return type(exc).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


# PostgreSQL's "not text" errors (a NUL in a string, bytes that are not UTF-8): the request's fault, not ours.
_NOT_TEXT = frozenset({"22021", "22P05"})


def _sqlstate(exc: DBAPIError) -> str | None:
    found = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(found) if found else None


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
