"""Which events a subscription wants: event types, and filters on what the event says.

A filter applies to every event type chosen (a subscription asking for `segment=hot` may only choose
`lead.scored`), so no filter is silently ignored. On `lead.scored`, `segment` matches when the lead enters the
segment (a hot lead rescored while still hot is not news to a CRM); `mql=true` when it crosses the threshold."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.events.models import (
    EventPayload,
    LeadHandoffChanged,
    LeadScored,
    LeadStageChanged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunitySnapshot,
    OpportunityUpdated,
)

Extract = Callable[[EventPayload], str | None]


def _scored(read: Callable[[LeadScored], str | None]) -> Extract:
    return lambda p: read(p) if isinstance(p, LeadScored) else None


def _staged(read: Callable[[LeadStageChanged], str | None]) -> Extract:
    return lambda p: read(p) if isinstance(p, LeadStageChanged) else None


def _deal(read: Callable[[OpportunitySnapshot], str | None]) -> Extract:
    return lambda p: read(p) if isinstance(p, OpportunitySnapshot) else None


def _entered(p: LeadScored) -> str | None:
    return p.segment.value if p.previous_segment != p.segment else None


_LEAD_SCORED: dict[str, Extract] = {
    "segment": _scored(_entered),
    "mql": _scored(lambda p: "true" if p.mql_crossed else None),
}
_STAGE_CHANGED: dict[str, Extract] = {
    "stage": _staged(lambda p: p.to_stage.value),
    "from_stage": _staged(lambda p: p.from_stage.value if p.from_stage else None),
    "owner": _staged(lambda p: p.owner),
    "source": _staged(lambda p: p.source),
}


def _handoff(read: Callable[[LeadHandoffChanged], str | None]) -> Extract:
    return lambda p: read(p) if isinstance(p, LeadHandoffChanged) else None


_HANDOFF: dict[str, Extract] = {
    "status": _handoff(lambda p: p.status),
    "owner": _handoff(lambda p: p.owner),
    "team": _handoff(lambda p: p.team),
    "action": _handoff(lambda p: p.action),
    "reason": _handoff(lambda p: p.reason),
}
_OPPORTUNITY: dict[str, Extract] = {
    "status": _deal(lambda p: p.status.value),
    "forecast_category": _deal(lambda p: p.forecast_category.value),
    "pipeline_stage": _deal(lambda p: p.pipeline_stage),
    "currency": _deal(lambda p: p.currency),
    "owner": _deal(lambda p: p.owner),
    "source": _deal(lambda p: p.source),
}

EVENT_TYPES: dict[str, tuple[type[EventPayload], Mapping[str, Extract]]] = {
    "lead.scored": (LeadScored, _LEAD_SCORED),
    "lead.stage_changed": (LeadStageChanged, _STAGE_CHANGED),
    "lead.handoff_changed": (LeadHandoffChanged, _HANDOFF),
    "opportunity.opened": (OpportunityOpened, _OPPORTUNITY),
    "opportunity.updated": (OpportunityUpdated, _OPPORTUNITY),
    "opportunity.closed": (OpportunityClosed, _OPPORTUNITY),
}


class SubscriptionError(ValueError):
    """A subscription that could never match as asked; the message says what to change."""


@dataclass(frozen=True)
class Wanted:
    """The event types and filters of one subscription."""

    event_types: tuple[str, ...]
    filters: Mapping[str, str]

    @classmethod
    def checked(cls, event_types: list[str], filters: Mapping[str, str]) -> "Wanted":
        """Refuse unknown event types, and filters that some chosen type does not carry."""
        if not event_types:
            raise SubscriptionError(f"choose at least one event type: {sorted(EVENT_TYPES)}")
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            raise SubscriptionError(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}")
        for key in filters:
            lacking = [t for t in event_types if key not in EVENT_TYPES[t][1]]
            if lacking:
                known = sorted(set.intersection(*(set(EVENT_TYPES[t][1]) for t in event_types)))
                raise SubscriptionError(
                    f"filter {key!r} does not apply to {lacking}; filters all chosen types carry: {known}"
                )
        return cls(tuple(dict.fromkeys(event_types)), {k: str(v).lower() for k, v in filters.items()})

    def matches(self, event_type: str, payload: EventPayload) -> bool:
        """Whether the event is one this subscription wants."""
        if event_type not in self.event_types:
            return False
        extract = EVENT_TYPES[event_type][1]
        return all((extract[key](payload) or "").lower() == value for key, value in self.filters.items())


def event_type_of(payload: EventPayload) -> str | None:
    """The subscription name of an event's type, or None for a type nobody may subscribe to."""
    for name, (kind, _) in EVENT_TYPES.items():
        if type(payload) is kind:
            return name
    return None
