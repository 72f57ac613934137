"""Named bearer tokens with scopes; tokens are kept only as SHA-256 digests and compared in constant time.

A token's name is who acts: the audit trail records it, never a name the caller claims. An integration token
(a CRM sync, a chat bot) acts for people the service cannot know, so it may add a display name in `x-actor`;
the trail then reads `<display> via <token name>`.
"""

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.http.problems import Problem
from shared.http.rate_limit import RateLimiter, too_many


class Scope(StrEnum):
    """What a token may do (docs/architecture.md, "HTTP")."""

    LEADS_WRITE = "leads:write"
    LEADS_READ = "leads:read"
    OPPORTUNITIES_WRITE = "opportunities:write"
    FORECAST_READ = "forecast:read"
    ADMIN = "admin"


@dataclass(frozen=True)
class TokenGrant:
    """One configured token: its name (the audit actor), its secret, its scopes, and whether it is an integration."""

    name: str
    token: str
    scopes: frozenset[str]
    integration: bool = False


@dataclass(frozen=True)
class Caller:
    """Who a request's token says is calling."""

    name: str
    scopes: frozenset[str]
    integration: bool

    @property
    def is_admin(self) -> bool:
        """Whether the token grants every scope."""
        return Scope.ADMIN.value in self.scopes

    def actor(self, display: str | None) -> str:
        """The audit actor: the token's name; an integration may say for whom it acts."""
        shown = (display or "").strip()
        if self.integration and shown:
            return f"{shown} via {self.name}"
        return self.name


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="leadflow"'}
# Only declares the scheme, so OpenAPI marks every protected route and /docs can send a token; checking stays
# in `require` (a missing or malformed header is a problem+json 401 there, not FastAPI's 403).
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="a named token (LEADFLOW_TOKENS)")
ACTOR_HEADER = "x-actor"


class TokenAuthority:
    """Knows which scopes each token grants; `admin` grants every scope."""

    def __init__(
        self,
        grants: Iterable[TokenGrant],
        limiter: RateLimiter | None = None,
        failures: RateLimiter | None = None,
    ) -> None:
        self._limiter = limiter
        self._failures = failures  # wrong tokens per client address: guessing is slowed to the bucket's rate
        self._grants: list[tuple[bytes, Caller]] = []
        names: set[str] = set()
        for grant in grants:
            unknown = grant.scopes - {s.value for s in Scope}
            if unknown:
                raise ValueError(f"token {grant.name!r}: unknown scopes {sorted(unknown)}; known: {list(Scope)}")
            if grant.name in names:
                raise ValueError(f"two tokens are named {grant.name!r}: the audit trail could not tell them apart")
            names.add(grant.name)
            self._grants.append((_digest(grant.token), Caller(grant.name, grant.scopes, grant.integration)))

    def caller_for(self, token: str) -> Caller | None:
        """The token's caller, or None when the token is unknown."""
        digest = _digest(token)
        found: Caller | None = None
        for known, caller in self._grants:
            # Compare against every grant so timing does not reveal which one matched.
            if hmac.compare_digest(known, digest):
                found = caller
        return found

    def require(self, scope: Scope) -> Callable[..., Caller]:
        """A FastAPI dependency refusing requests without a token granting `scope`; it gives the caller."""
        check = self._checker(scope)

        def dependency(
            request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
        ) -> Caller:
            return check(request)

        return dependency

    def _checker(self, scope: Scope) -> Callable[[Request], Caller]:

        def check(request: Request) -> Caller:
            client = request.client.host if request.client else ""
            if self._failures is not None and (wait := self._failures.waiting(client)) is not None:
                raise too_many("too many requests from this address carried no valid token", wait)
            kind, _, token = request.headers.get("authorization", "").partition(" ")
            token = token.strip()
            caller = self.caller_for(token) if kind.lower() == "bearer" and token else None
            if caller is None:
                if self._failures is not None:
                    self._failures.retry_after(client)  # spends this address's allowance of failures
                if kind.lower() != "bearer" or not token:
                    raise Problem(401, "Unauthorized", "send Authorization: Bearer <token>", headers=_CHALLENGE)
                raise Problem(401, "Unauthorized", "the bearer token is not valid", headers=_CHALLENGE)
            if scope.value not in caller.scopes and Scope.ADMIN.value not in caller.scopes:
                raise Problem(403, "Forbidden", f"token {caller.name!r} lacks the {scope.value!r} scope")
            if self._limiter is not None:
                self._limiter.check(caller.name, "this token")
            return caller

        return check

    def actor(self, scope: Scope) -> Callable[..., str]:
        """A dependency like `require` that gives the audit actor of the request."""
        check = self._checker(scope)

        def actor(
            request: Request,
            _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
            display: Annotated[
                str | None,
                Header(
                    alias=ACTOR_HEADER,
                    max_length=200,
                    description="for integration tokens only: the person the integration acts for (audit trail)",
                ),
            ] = None,
        ) -> str:
            return check(request).actor(display)

        return actor


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
