"""Bearer tokens with scopes; tokens are kept only as SHA-256 digests and compared in constant time."""

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum

from fastapi import Request

from shared.http.problems import Problem
from shared.http.rate_limit import RateLimiter, too_many


class Scope(StrEnum):
    """What a token may do (DESIGN.md section 5)."""

    LEADS_WRITE = "leads:write"
    LEADS_READ = "leads:read"
    OPPORTUNITIES_WRITE = "opportunities:write"
    FORECAST_READ = "forecast:read"
    ADMIN = "admin"


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="leadflow"'}


class TokenAuthority:
    """Knows which scopes each token grants; `admin` grants every scope."""

    def __init__(
        self,
        tokens: Mapping[str, Iterable[str]],
        limiter: RateLimiter | None = None,
        failures: RateLimiter | None = None,
    ) -> None:
        self._limiter = limiter
        self._failures = failures  # wrong tokens per client address: guessing is slowed to the bucket's rate
        self._grants: list[tuple[bytes, frozenset[str]]] = []
        for token, scopes in tokens.items():
            granted = frozenset(scopes)
            unknown = granted - {s.value for s in Scope}
            if unknown:
                raise ValueError(f"unknown scopes {sorted(unknown)}; known: {[s.value for s in Scope]}")
            self._grants.append((_digest(token), granted))

    def scopes_for(self, token: str) -> frozenset[str] | None:
        """The token's scopes, or None when the token is unknown."""
        digest = _digest(token)
        found: frozenset[str] | None = None
        for known, scopes in self._grants:
            # Compare against every grant so timing does not reveal which one matched.
            if hmac.compare_digest(known, digest):
                found = scopes
        return found

    def require(self, scope: Scope) -> Callable[[Request], None]:
        """A FastAPI dependency refusing requests without a token granting `scope`."""

        def check(request: Request) -> None:
            client = request.client.host if request.client else ""
            if self._failures is not None and (wait := self._failures.waiting(client)) is not None:
                raise too_many("too many requests from this address carried no valid token", wait)
            header = request.headers.get("authorization", "")
            kind, _, token = header.partition(" ")
            scopes = self.scopes_for(token.strip()) if kind.lower() == "bearer" and token.strip() else None
            if scopes is None:
                if self._failures is not None:
                    self._failures.retry_after(client)  # spends this address's allowance of failures
                if kind.lower() != "bearer" or not token.strip():
                    raise Problem(401, "Unauthorized", "send Authorization: Bearer <token>", headers=_CHALLENGE)
                raise Problem(401, "Unauthorized", "the bearer token is not valid", headers=_CHALLENGE)
            if scope.value not in scopes and Scope.ADMIN.value not in scopes:
                raise Problem(403, "Forbidden", f"this token lacks the {scope.value!r} scope")
            if self._limiter is not None:
                self._limiter.check(_digest(token.strip()).hex(), "this token")

        return check


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
