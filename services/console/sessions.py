"""Signed-in sessions as sealed cookies: the person's token, name and CSRF secret, encrypted and authenticated
with the console's key (Fernet), so any replica can read them and nobody else can.

The cookie carries the token because the console calls the services as the person; sealed, it reveals nothing,
and it is HttpOnly (no script reads it), Secure and SameSite=Strict (no other site sends it)."""

import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "leadflow_console"


@dataclass(frozen=True)
class Session:
    """Who is signed in, with which token, and the secret their forms must carry."""

    name: str
    token: str
    csrf: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        """Whether the token grants `scope` (admin grants all)."""
        return scope in self.scopes or "admin" in self.scopes

    def form_is_ours(self, submitted: str | None) -> bool:
        """Whether a form carried this session's CSRF secret."""
        return submitted is not None and hmac.compare_digest(submitted.encode(), self.csrf.encode())


class Sessions:
    """Seals and opens session cookies."""

    def __init__(self, key: bytes, ttl_s: float) -> None:
        self._fernet = Fernet(key)
        self.ttl_s = ttl_s

    def seal(self, name: str, token: str, scopes: frozenset[str]) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(name, token, secrets.token_urlsafe(24), scopes)
        body = {"n": name, "t": token, "c": session.csrf, "s": sorted(scopes)}
        return session, self._fernet.encrypt_at_time(json.dumps(body).encode(), int(time.time())).decode()

    def open(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when absent, tampered with, sealed with another key or expired."""
        if not cookie:
            return None
        try:
            body = json.loads(self._fernet.decrypt(cookie.encode(), ttl=int(self.ttl_s)))
        except (InvalidToken, ValueError):
            return None
        return Session(body["n"], body["t"], body["c"], frozenset(body["s"]))
