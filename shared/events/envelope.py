"""CloudEvents 1.0 envelope (structured JSON mode) and the codec from and to Kafka bytes."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, Generic, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from typing_extensions import TypeVar

from shared.events.models import ALL_PAYLOADS, EventPayload
from shared.ids import LeadId

# Covariant: an Event[LeadCaptured] is an Event[EventPayload]; a bare `Event` means the latter.
P_co = TypeVar("P_co", bound=EventPayload, covariant=True, default=EventPayload)
P = TypeVar("P", bound=EventPayload)

CONTENT_TYPE = "application/cloudevents+json"


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


def _typed_envelope(payload: type[EventPayload]) -> type[Envelope]:
    """The envelope of one event type: its `type` is the discriminator, its `data` that type's payload."""
    tag: Any = Literal[payload.cloudevents_type()]  # one literal per event type, made at import
    return create_model(f"{payload.__name__}Envelope", __base__=Envelope, type=(tag, ...), data=(payload, ...))


# Every event type's envelope in one discriminated union: a message is parsed and validated in one pass, by
# the model its `type` names.
_WIRE: TypeAdapter[Envelope] = TypeAdapter(
    Annotated[Union[tuple(_typed_envelope(p) for p in ALL_PAYLOADS)], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007
)


def decode(raw: bytes | None) -> Event:
    """Parse and validate bytes from the wire into a typed event."""
    if not raw:
        raise EventDecodeError("empty message")
    try:
        envelope = _WIRE.validate_json(raw)
    except ValidationError as exc:
        raise EventDecodeError(_decode_error(exc)) from exc
    return Event(envelope=envelope, payload=envelope.data)  # type: ignore[arg-type]  # the payload model


def _decode_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    if err["type"] == "union_tag_invalid":
        return f"unknown event type {err['ctx']['tag']!r}"
    loc = err["loc"]
    if len(loc) > 2 and loc[1] == "data":
        location = ".".join(str(part) for part in loc[2:]) or "(root)"
        return f"invalid {loc[0]} payload: {location}: {err['msg']}"
    location = ".".join(str(part) for part in loc[1:]) or "(root)"
    return f"not a CloudEvents 1.0 envelope: {location}: {err['msg']}"
