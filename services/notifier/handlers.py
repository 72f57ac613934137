"""Notifier's event handlers: who a lead is, and a delivery queued for each subscription an event matches.

What the notifier consumes is the `CONSUMES` table."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.notifier.domain.messages import slack_body, standard_body
from services.notifier.domain.subscriptions import Wanted, event_type_of
from services.notifier.persistence import repository
from shared.db.erasure import forget
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import (
    EventPayload,
    LeadCaptured,
    LeadHandoffChanged,
    LeadScored,
    LeadStageChanged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunityUpdated,
    PersonErased,
)
from shared.messaging.subscription import Consumes, On, Subscription


class DeliveryBatch:
    """The subscriptions and the people of one consumed batch, read once; the deliveries it queues, written once."""

    def __init__(self, console_url: str | None = None) -> None:
        self.console_url = console_url
        self.wanted: list[tuple[dict[str, Any], Wanted]] = []
        self.who: dict[str, dict[str, Any]] = {}
        self.queued: list[dict[str, Any]] = []

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Read the subscriptions and who the batch's leads are."""
        found = await repository.all_subscriptions(uow.session)
        self.wanted = [(s, Wanted.checked(list(s["event_types"]), dict(s["filters"]))) for s in found]
        self.who = await repository.who_is(uow.session, [e.lead_id for e in events])
        self.queued = []

    async def save(self, uow: UnitOfWork) -> None:
        """Queue the batch's deliveries."""
        await repository.queue(uow.session, self.queued)
        self.queued = []

    def notify(self, event: Event[EventPayload]) -> None:
        """A delivery for each subscription that wants this event, with the body it will carry."""
        event_type = event_type_of(event.payload)
        if event_type is None:
            return
        who = self.who.get(event.lead_id)
        now = datetime.now(UTC)
        for subscription, wanted in self.wanted:
            if not wanted.matches(event_type, event.payload):
                continue
            if subscription["format"] == "slack":
                link = f"{self.console_url}/leads/{event.lead_id}" if self.console_url else None
                body = slack_body(event_type, event.payload, who, link)
            else:
                body = standard_body(event_type, event.envelope.id, event.payload, who)
            self.queued.append(
                {
                    "subscription_id": subscription["subscription_id"],
                    "event_id": event.envelope.id,
                    "event_type": event_type,
                    "lead_id": event.lead_id,
                    "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                    "created_at": now,
                    "status": repository.PENDING,
                    "attempts": 0,
                }
            )


async def on_captured(batch: DeliveryBatch, uow: UnitOfWork, event: Event[LeadCaptured]) -> None:
    """Who the lead is, so messages name a person."""
    payload = event.payload
    who = {
        "name": payload.contact.full_name(),
        "email": str(payload.contact.email) if payload.contact.email else None,
        "job_title": payload.contact.job_title,
        "company": payload.company.name,
    }
    await repository.remember_person(uow.session, event.lead_id, who)
    batch.who[event.lead_id] = {**batch.who.get(event.lead_id, {}), **{k: v for k, v in who.items() if v}}


async def on_news(batch: DeliveryBatch, uow: UnitOfWork, event: Event[EventPayload]) -> None:
    """An event a subscription may want."""
    batch.notify(event)


async def on_erased(batch: DeliveryBatch, uow: UnitOfWork, event: Event[PersonErased]) -> None:
    """The person asked to be forgotten: who they were and every delivery about them go, sent or not."""
    batch.queued = [q for q in batch.queued if q["lead_id"] != event.lead_id]
    batch.who.pop(event.lead_id, None)
    await repository.erase(uow.session, [event.lead_id])
    await forget(uow, [event.lead_id], event.payload.erased_at)


CONSUMES = Consumes[DeliveryBatch](
    (
        On(LeadCaptured, on_captured),
        On(LeadScored, on_news),
        On(LeadStageChanged, on_news),
        On(LeadHandoffChanged, on_news),
        On(OpportunityOpened, on_news),
        On(OpportunityUpdated, on_news),
        On(OpportunityClosed, on_news),
        On(PersonErased, on_erased),
    )
)


def subscription(console_url: str | None = None) -> Subscription[DeliveryBatch]:
    """Notifier's handlers; chat messages link to the lead's page on the console at `console_url`."""
    return Subscription(CONSUMES, lambda: DeliveryBatch(console_url))
