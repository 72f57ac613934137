"""CloudEvents 1.0 envelope (structured JSON mode) and the codec from and to Kafka bytes."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypeVar

from shared.events.models import ALL_PAYLOADS, EventPayload
from shared.ids import LeadId

# Covariant: an Event[LeadCaptured] is an Event[EventPayload]; a bare `Event` means the latter.
P_co = TypeVar("P_co", bound=EventPayload, covariant=True, default=EventPayload)
P = TypeVar("P", bound=EventPayload)

CONTENT_TYPE = "application/cloudevents+json"

_PAYLOAD_BY_TYPE: dict[str, type[EventPayload]] = {p.cloudevents_type(): p for p in ALL_PAYLOADS}


class Envelope(BaseModel):
    """The CloudEvents attributes leadflow uses, with the payload as plain JSON."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Event(Generic[P_co]):
    """An envelope together with its validated, typed payload; handlers declare the payload they take."""

    envelope: Envelope
    payload: P_co

    @property
    def id(self) -> str:
        """The event id, unique across the system; the inbox key."""
        return self.envelope.id

    @cached_property
    def lead_id(self) -> LeadId:
        """The partition key of every leadflow event (asked for by every handler, row and outbox write of it)."""
        return LeadId(str(self.payload.lead_id))  # a UUID already: its text is canonical


class EventDecodeError(ValueError):
    """Bytes that are not a leadflow event this version understands."""


def new_event(payload: P, *, source: str, correlation_id: str | None = None) -> Event[P]:
    """Wrap a payload in a fresh envelope."""
    event_id = str(uuid.uuid4())
    # Every field is made here from a validated payload; validating the envelope again (a deep copy of `data`)
    # cost as much as building the payload. `decode` still validates whatever comes off the wire.
    envelope = Envelope.model_construct(
        id=event_id,
        source=source,
        type=payload.cloudevents_type(),
        subject=str(payload.lead_id),
        time=datetime.now(UTC),
        correlationid=correlation_id or event_id,
        data=payload.model_dump(mode="json"),
    )
    return Event(envelope=envelope, payload=payload)


def encode(event: Event) -> bytes:
    """Serialise for the wire."""
    return event.envelope.model_dump_json(exclude_none=True).encode()


def decode(raw: bytes | None) -> Event:
    """Parse and validate bytes from the wire into a typed event."""
    if not raw:
        raise EventDecodeError("empty message")
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise EventDecodeError(f"not a CloudEvents 1.0 envelope: {_first_error(exc)}") from exc
    payload_type = _PAYLOAD_BY_TYPE.get(envelope.type)
    if payload_type is None:
        raise EventDecodeError(f"unknown event type {envelope.type!r}")
    try:
        payload = payload_type.model_validate(envelope.data)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {envelope.type} payload: {_first_error(exc)}") from exc
    return Event(envelope=envelope, payload=payload)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    location = ".".join(str(part) for part in err["loc"]) or "(root)"
    return f"{location}: {err['msg']}"
