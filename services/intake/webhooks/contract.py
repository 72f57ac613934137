"""The contract every provider adapter fulfils, and what it hands to the capture service."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.intake.domain.capture import Submission


class HandshakeRefused(ValueError):
    """A verification request (Meta's hub.challenge) that does not carry our token."""


@dataclass(frozen=True)
class RawRequest:
    """A webhook delivery exactly as it arrived: the signature covers these bytes."""

    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class PendingEnrichment:
    """A lead known only by a provider's id (Meta lead ads); its fields are fetched later."""

    external_id: str
    context: dict[str, Any]


@dataclass(frozen=True)
class WebinarJoin:
    """A participant entered a webinar; attendance minutes are counted when they leave."""

    webinar_id: str
    participant: str
    joined_at: datetime


MAX_DELIVERY_ID = 200  # the deliveries table's column


def bounded_id(value: str) -> str:
    """A delivery id as stored: at most 200 characters, a longer one (a sender's id has no bound) by its hash, so
    that it still names one delivery; before, a longer id was a database error on every retry."""
    return value if len(value) <= MAX_DELIVERY_ID else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Parsed:
    """What one delivery carries."""

    delivery_id: str
    submissions: tuple[Submission, ...] = ()
    pending: tuple[PendingEnrichment, ...] = ()
    joins: tuple[WebinarJoin, ...] = ()
    reply: dict[str, Any] | None = field(default=None)  # a handshake answered at once; nothing is stored

    def __post_init__(self) -> None:
        object.__setattr__(self, "delivery_id", bounded_id(self.delivery_id))


class WebhookAdapter(Protocol):
    """One provider's signature scheme and payload shape."""

    name: str
    content_types: tuple[str, ...]
    secret: str | None  # None: not configured, the provider's deliveries are refused with 503

    def verify(self, request: RawRequest, *, now: float) -> None:
        """Raise SignatureError unless the delivery is authentic (and fresh, where the provider says when)."""

    def parse(self, request: RawRequest) -> Parsed:
        """Map the payload; raise Refused (or pydantic's ValidationError) when it cannot become a lead. Anything
        else it raises is a bug, answered 500 and logged."""


class ChallengeAdapter(Protocol):
    """A provider that verifies the endpoint with a GET before sending (Meta)."""

    def challenge(self, query: dict[str, str]) -> str:
        """The text to answer the GET with; HandshakeRefused when the token does not match."""
