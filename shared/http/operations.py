"""Open operational routes: /healthz, /readyz and /metrics."""

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.http.problems import problem_response
from shared.metrics import Metrics

Check = Callable[[], Awaitable[bool]]


def operations_router(metrics: Metrics, checks: dict[str, Check]) -> APIRouter:
    """Liveness, readiness (every named check must pass) and Prometheus exposition."""
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

    @router.get("/metrics", summary="Prometheus metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
