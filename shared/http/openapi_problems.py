"""The OpenAPI document as the services answer: every error status a route can give is problem+json.

FastAPI documents only 422, with its own validation schema, while every error leadflow sends is RFC 9457
problem details (shared/http/problems.py). This rewrites the generated document once, when it is first asked
for: the statuses every route can answer by how the app is built (validation, an unparsable or oversized body,
authentication, rate limit, database unavailable, unexpected error) are added beside the ones a route declares,
and all of them carry the one `Problem` schema."""

from typing import Any

from fastapi import FastAPI

from shared.http.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; some problems add members (errors, merged_into, current_revision)",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Not found"},
        "status": {"type": "integer", "example": 404},
        "detail": {"type": "string", "description": "what went wrong and what to change"},
        "errors": {
            "type": "array",
            "description": "with 422: each invalid field",
            "items": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "The body could not be parsed",
    401: "No bearer token, or one that is not valid",
    403: "The token lacks the scope this route needs",
    404: "Not found",
    409: "Conflict with the current state; the detail says which",
    413: "The body is larger than LEADFLOW_MAX_BODY_BYTES",
    415: "Unsupported media type",
    422: "The request is not valid; `errors` names each field",
    429: "Too many requests from this token or address; Retry-After says when to retry",
    500: "An unexpected error; it has been logged",
    503: "The database is unreachable; nothing was stored, retry after Retry-After",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_CHALLENGE = {"WWW-Authenticate": {"description": "Bearer realm", "schema": {"type": "string"}}}


def answer_with_problems(app: FastAPI) -> None:
    """Make `app.openapi()` document problem+json for every error status its routes answer."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every operation's error responses as problem+json (changed in place, and returned)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status in _statuses(operation, responses):
                responses[str(status)] = _problem(status, responses.get(str(status), {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _statuses(operation: dict[str, Any], responses: dict[str, Any]) -> list[int]:
    """What an operation can answer besides success: what it declares, and what every route of its kind can."""
    found = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    found |= {500, 503}
    if operation.get("parameters") or operation.get("requestBody"):
        found.add(422)
    if operation.get("requestBody"):
        found |= {400, 413}  # a body that is not JSON (or not the form it claims); one over the size bound
    if operation.get("security"):
        found |= {401, 403, 429}
    return sorted(found)


def _problem(status: int, declared: dict[str, Any]) -> dict[str, Any]:
    headers = dict(declared.get("headers", {}))
    if status in (429, 503):
        headers |= _RETRY_AFTER
    if status == 401:
        headers |= _CHALLENGE
    description = declared.get("description")
    if not description or description == "Validation Error":
        description = _DESCRIPTIONS.get(status, "Error")
    answer: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def declared(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error statuses its own code raises (the ones every route of its kind can
    answer are added by `with_problems`); `described` words one in the route's terms, as `_409="already merged"`."""
    answers: dict[int | str, dict[str, Any]] = {s: {"description": _DESCRIPTIONS.get(s, "Error")} for s in statuses}
    for key, text in described.items():
        answers[int(key.removeprefix("_"))] = {"description": text}
    return answers
