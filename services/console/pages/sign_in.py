"""Signing in with a named token, and out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.pages.context import Pages, local
from services.console.sessions import COOKIE, Session
from shared.http.auth import TokenAuthority
from shared.http.rate_limit import RateLimiter


def sign_in_router(pages: Pages, tokens: TokenAuthority, failed_sign_ins: RateLimiter) -> APIRouter:
    """GET and POST /login, POST /logout; `failed_sign_ins` slows token guessing per client address."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> Response:
        return pages.render(request, "login.html", None, title="Sign in", next=local(next))

    @router.post("/login")
    async def login(
        request: Request,
        token: Annotated[str, Form(max_length=500)],
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        client = request.client.host if request.client else ""
        back = local(next)
        if (wait := failed_sign_ins.waiting(client)) is not None:
            problem = f"Too many failed sign-ins from this address; try again in {wait:.0f} s."
            return pages.render(request, "login.html", None, 429, title="Sign in", next=back, problem=problem)
        caller = tokens.caller_for(token.strip())
        if caller is None:
            failed_sign_ins.retry_after(client)
            problem = "That token is not valid."
            return pages.render(request, "login.html", None, 401, title="Sign in", next=back, problem=problem)
        _, sealed = pages.sessions.seal(caller.name, token.strip(), caller.scopes)
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(
            COOKIE, sealed, max_age=int(pages.sessions.ttl_s), httponly=True, secure=True, samesite="strict", path="/"
        )
        return response

    @router.post("/logout")
    async def logout(
        request: Request,
        session: Annotated[Session, Depends(pages.signed_in)],
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        pages.form_from_console(request, session, csrf_token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    return router
