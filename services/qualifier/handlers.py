"""Qualifier's event handlers, one per consumed event type, in one registry."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.qualifier.domain.stages import decide_on_score
from services.qualifier.persistence import repository
from services.qualifier.service import move
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.models import EventPayload, LeadCaptured, LeadScored
from shared.events.vocabulary import LeadStage
from shared.messaging.consumer import Handler


class QualifierHandlers:
    """Keeps each lead's stage in step with what intake and the scorer report."""

    def __init__(self, rules_version: str) -> None:
        self._rules_version = rules_version

    def registry(self) -> Mapping[type[EventPayload], Handler]:
        """Which handler applies which event type."""
        return {LeadCaptured: self.on_captured, LeadScored: self.on_scored}

    async def on_captured(self, uow: UnitOfWork, event: Event) -> None:
        """A new lead enters the funnel; a known one only refreshes its details."""
        payload = event.payload
        assert isinstance(payload, LeadCaptured)
        details = {
            "email": str(payload.contact.email),
            "job_title": payload.contact.job_title,
            "company": payload.company.name,
            "source": payload.source.provider,
        }
        lead = await self._lead(uow, event, details)
        await repository.update_lead(
            uow.session, lead["lead_id"], {k: v for k, v in details.items() if v} | {"updated_at": _now()}
        )

    async def on_scored(self, uow: UnitOfWork, event: Event) -> None:
        """The scorer's verdict can make a lead an MQL or take that back."""
        payload = event.payload
        assert isinstance(payload, LeadScored)
        lead = await self._lead(uow, event, {})
        await repository.update_lead(
            uow.session,
            lead["lead_id"],
            {"score": payload.score, "segment": payload.segment.value, "mql": payload.mql, "updated_at": _now()},
        )
        decision = decide_on_score(LeadStage(lead["stage"]), mql=payload.mql, score=payload.score)
        if decision is not None:
            await move(
                uow,
                lead,
                decision.target,
                reason=decision.reason,
                decided_by="scorer",
                rules_version=payload.rules_version,
                now=_now(),
                correlation_id=event.envelope.correlationid,
            )

    async def _lead(self, uow: UnitOfWork, event: Event, details: dict[str, Any]) -> dict[str, Any]:
        """The lead's row, created at stage `lead` the first time any event names it."""
        lead = await repository.load_lead(uow.session, event.lead_id)
        if lead is not None:
            return lead
        now = _now()
        lead = {"lead_id": event.lead_id, "stage": None, "mql": False, "stage_changed_at": now, "updated_at": now}
        lead |= details
        await repository.insert_lead(uow.session, lead | {"stage": LeadStage.LEAD.value})
        await move(
            uow,
            lead,
            LeadStage.LEAD,
            reason="entered the funnel",
            decided_by="qualifier",
            rules_version=self._rules_version,
            now=now,
            correlation_id=event.envelope.correlationid,
        )
        return lead


def _now() -> datetime:
    return datetime.now(UTC)
