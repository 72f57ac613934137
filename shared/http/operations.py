"""Operational routes: /healthz and /readyz (open: orchestrators probe them), /metrics (a scrape token when set)."""

import hmac
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.http.problems import Problem, problem_response
from shared.metrics import Metrics

Check = Callable[[], Awaitable[bool]]


def operations_router(metrics: Metrics, checks: dict[str, Check], metrics_token: str | None = None) -> APIRouter:
    """Liveness, readiness (every named check must pass) and Prometheus exposition (behind `metrics_token`)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": metrics.service}

    @router.get(
        "/readyz", summary="Readiness: database and broker reachable, consumers in their groups", response_model=None
    )
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in checks.items()}
        if all(results.values()):
            return JSONResponse({"status": "ready", "service": metrics.service, "checks": results})
        failing = ", ".join(name for name, ok in results.items() if not ok)
        return problem_response(503, "Service unavailable", f"not ready: waiting for {failing}", checks=results)

    @router.get("/metrics", summary="Prometheus metrics (Authorization: Bearer <LEADFLOW_METRICS_TOKEN> when set)")
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
