"""What every page needs: the signed-in session, the CSRF check and rendering."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from services.console.sessions import COOKIE, Session, Sessions
from services.console.upstream import Upstream

# Pages carry names and revenue: no shared cache keeps them.
_NO_STORE = {"cache-control": "no-store"}


class NeedsSignIn(Exception):
    """No valid session: the person is sent to sign in, and back here after."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class ForeignForm(Exception):
    """A form that did not come from a console page (no or wrong CSRF secret, or another origin)."""


@dataclass(frozen=True)
class Pages:
    """The console's pages' common parts."""

    upstream: Upstream
    sessions: Sessions
    templates: Jinja2Templates

    def signed_in(self, request: Request) -> Session:
        """The request's session (a FastAPI dependency); NeedsSignIn without one."""
        session = self.sessions.open(request.cookies.get(COOKIE))
        if session is None:
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise NeedsSignIn(back)
        return session

    @staticmethod
    def form_from_console(request: Request, session: Session, csrf_token: str | None) -> None:
        """Refuse a form posted from elsewhere: the browser's Origin must be ours and the CSRF secret the
        session's."""
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.url.netloc:
            raise ForeignForm
        if not session.form_is_ours(csrf_token):
            raise ForeignForm

    def render(
        self, request: Request, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> Response:
        """A page from its template."""
        return self.templates.TemplateResponse(
            request, template, {"session": session, **context}, status_code=status, headers=_NO_STORE
        )


def local(path: str) -> str:
    """Only a path on this console: a sign-in link must not send anyone to another site."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"
