"""Operational routes: /healthz and /readyz (open: orchestrators probe them), /metrics (a scrape token when set)."""

import hmac
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.http.openapi_problems import declared
from shared.http.problems import Problem, problem_response
from shared.metrics import Metrics

Check = Callable[[], Awaitable[bool]]


def operations_router(
    metrics: Metrics,
    checks: dict[str, Check],
    stuck: Callable[[], dict[str, float]],
    metrics_token: str | None = None,
) -> APIRouter:
    """Liveness (no loop of the process stuck: `stuck` names them with the seconds since their last turn),
    readiness (every named check must pass) and Prometheus exposition (behind `metrics_token`)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers and none of its loops is stuck", response_model=None)
    async def healthz() -> JSONResponse:
        stale = stuck()
        if not stale:
            return JSONResponse({"status": "ok", "service": metrics.service})
        named = ", ".join(f"{name} (no turn for {age:g} s)" for name, age in sorted(stale.items()))
        return problem_response(503, "Service unavailable", f"stuck: {named}", stuck=stale)

    @router.get(
        "/readyz",
        summary="Readiness: the database reachable; for a consumer, the broker too and its groups joined",
        response_model=None,
    )
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in checks.items()}
        if all(results.values()):
            return JSONResponse({"status": "ready", "service": metrics.service, "checks": results})
        failing = ", ".join(name for name, ok in results.items() if not ok)
        return problem_response(503, "Service unavailable", f"not ready: waiting for {failing}", checks=results)

    @router.get(
        "/metrics",
        summary="Prometheus metrics (Authorization: Bearer <LEADFLOW_METRICS_TOKEN> when set)",
        response_class=PlainTextResponse,
        responses={
            200: {
                "description": "the Prometheus text format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **declared(_401="LEADFLOW_METRICS_TOKEN is set and the request does not carry it"),
        },
    )
    async def prometheus_metrics(request: Request) -> Response:
        if metrics_token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), metrics_token.encode()):
                raise Problem(
                    401,
                    "Unauthorized",
                    "send Authorization: Bearer <LEADFLOW_METRICS_TOKEN>",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
