"""Composition root of the console: the upstream client, sessions, templates and the routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.api.routes import console_api_router
from services.console.pages import formatting
from services.console.pages.context import ForeignForm, NeedsSignIn, Pages
from services.console.pages.leads import leads_router
from services.console.pages.reports import reports_router
from services.console.pages.sign_in import sign_in_router
from services.console.sessions import COOKIE, Sessions
from services.console.settings import ConsoleSettings
from services.console.upstream import Refused, Unavailable, Upstream
from shared.http.auth import TokenAuthority
from shared.http.openapi_problems import answer_with_problems
from shared.http.operations import operations_router
from shared.http.problems import install_problem_handlers, problem_response
from shared.http.rate_limit import RateLimiter
from shared.http.request_metrics import RequestMetrics
from shared.metrics import Metrics

HERE = Path(__file__).parent


def build_app(settings: ConsoleSettings) -> FastAPI:
    """The console app."""
    upstream = Upstream(settings.service_urls(), settings.upstream_timeout_s)
    key = settings.console_session_key.get_secret_value().encode() if settings.console_session_key else None
    sessions = Sessions(key or Fernet.generate_key(), settings.console_session_hours * 3600)
    tokens = TokenAuthority(
        settings.token_grants(),
        RateLimiter(settings.rate_limit_per_token, int(settings.rate_limit_per_token * 2)),
        RateLimiter(settings.rate_limit_failed_auth, 30),
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        percent=formatting.percent,
        money=formatting.money,
        shown=formatting.shown,
        sla=formatting.sla,
        when=formatting.when,
        why=formatting.why,
        band=formatting.band,
    )
    metrics = Metrics("console")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.close()

    shown = settings.environment != "production"
    app = FastAPI(
        title="leadflow console",
        description="Pages for the people who work the leads, and one composed view of a lead (GET /v1/leads/{id}).",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs" if shown else None,
        redoc_url=None,
        openapi_url="/openapi.json" if shown else None,
    )
    install_problem_handlers(app)
    answer_with_problems(app)
    _answer_pages_in_html(app, templates, sessions)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(operations_router(metrics, {}, dict, _metrics_token(settings)))
    app.include_router(console_api_router(upstream, tokens))
    pages = Pages(upstream, sessions, templates)
    app.include_router(sign_in_router(pages, tokens, RateLimiter(settings.rate_limit_failed_auth, 30)))
    app.include_router(leads_router(pages))
    app.include_router(reports_router(pages))
    return app


def _metrics_token(settings: ConsoleSettings) -> str | None:
    return settings.metrics_token.get_secret_value() if settings.metrics_token else None


def _answer_pages_in_html(app: FastAPI, templates: Jinja2Templates, sessions: Sessions) -> None:
    """A page whose service refuses or does not answer says so in a page; the JSON routes answer problem+json."""

    def page(request: Request, status: int, title: str, problem: str) -> Response:
        session = sessions.open(request.cookies.get(COOKIE))  # still signed in: the menu stays
        context = {"session": session, "title": title, "problem": problem}
        return templates.TemplateResponse(request, "message.html", context, status_code=status)

    async def sign_in(request: Request, exc: Exception) -> Response:
        back = exc.back_to if isinstance(exc, NeedsSignIn) else request.url.path
        response = RedirectResponse(f"/login?next={back}", status_code=303)
        if not isinstance(exc, NeedsSignIn):
            response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if request.url.path.startswith("/v1/"):
            return problem_response(exc.status, "Refused by " + exc.service, exc.detail)
        if exc.status == 401:
            return await sign_in(request, exc)  # the token was revoked since sign-in
        if exc.status == 403:
            return page(request, 403, "Not allowed", f"Your token may not do this: {exc.detail}.")
        return page(request, exc.status, "Could not be done", f"The {exc.service} answered: {exc.detail}.")

    async def unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Unavailable)
        detail = f"The {exc.service} is not answering; try again shortly."
        if request.url.path.startswith("/v1/"):
            return problem_response(503, "Service unavailable", detail, headers={"Retry-After": "2"})
        return page(request, 503, "Not available right now", detail)

    async def foreign(request: Request, _: Exception) -> Response:
        return page(request, 403, "Form refused", "This form did not come from a console page; reload and retry.")

    app.add_exception_handler(NeedsSignIn, sign_in)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(Unavailable, unavailable)
    app.add_exception_handler(ForeignForm, foreign)


class SecurityHeaders:
    """No framing, no foreign scripts or form targets, no sniffing, no referrer to other sites."""

    HEADERS = (
        (
            b"content-security-policy",
            b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; "
            b"base-uri 'none'",
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
