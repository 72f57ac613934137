"""Scorer's event handlers, one per consumed event type, in one registry."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from services.scorer import SERVICE
from services.scorer.domain.rules import ScoringRules
from services.scorer.domain.scoring import Activity, Profile, score_lead
from services.scorer.persistence import repository
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event, new_event
from shared.events.models import EventPayload, LeadActivity, LeadCaptured, LeadOutcomeRecorded, LeadScored
from shared.messaging.consumer import Handler

SOURCE = f"/leadflow/{SERVICE}"


class ScorerHandlers:
    """Turns intake events into stored scores and lead.scored events."""

    def __init__(self, rules: ScoringRules, rules_version: str) -> None:
        self._rules = rules
        self._rules_version = rules_version

    def registry(self) -> Mapping[type[EventPayload], Handler]:
        """Which handler applies which event type."""
        return {LeadCaptured: self.on_captured, LeadActivity: self.on_activity, LeadOutcomeRecorded: self.on_outcome}

    async def on_outcome(self, uow: UnitOfWork, event: Event) -> None:
        """Keep imported outcomes: the predictive model learns from them."""
        payload = event.payload
        assert isinstance(payload, LeadOutcomeRecorded)
        await repository.record_outcome(
            uow.session, event.lead_id, payload.outcome, payload.source.provider, payload.recorded_at
        )

    async def on_captured(self, uow: UnitOfWork, event: Event) -> None:
        """A lead arrived (or came back): update what we know and rescore."""
        payload = event.payload
        assert isinstance(payload, LeadCaptured)
        known = Profile(
            job_title=payload.contact.job_title,
            company=payload.company.name,
            free_mail=payload.free_mail,
            phone=payload.contact.phone,
            country=payload.company.country,
        )
        activity = Activity(payload.via, payload.captured_at)
        await self._rescore(uow, event, known, activity)

    async def on_activity(self, uow: UnitOfWork, event: Event) -> None:
        """A known (or not yet known) lead did something: rescore."""
        payload = event.payload
        assert isinstance(payload, LeadActivity)
        activity = Activity(payload.activity_type, payload.occurred_at, payload.minutes)
        await self._rescore(uow, event, Profile(), activity)

    async def _rescore(self, uow: UnitOfWork, event: Event, seen: Profile, activity: Activity) -> None:
        lead_id = event.lead_id
        stored = await repository.load(uow.session, lead_id)
        profile = _fill(stored.profile, seen) if stored else seen
        await repository.add_activity(uow.session, lead_id, event.id, activity)
        history = await repository.activities_of(uow.session, lead_id)
        now = datetime.now(UTC)
        score = score_lead(profile, history, self._rules, now)
        await repository.save(
            uow.session,
            lead_id,
            profile,
            score,
            activity_count=len(history),
            rules_version=self._rules_version,
            scored_at=now,
            is_new=stored is None,
        )
        was_mql = stored.mql if stored else False
        uow.emit(
            new_event(
                LeadScored(
                    lead_id=event.payload.lead_id,
                    fit=score.fit,
                    engagement=score.engagement,
                    score=score.score,
                    segment=score.segment,
                    previous_segment=stored.segment if stored else None,
                    mql=score.mql,
                    mql_crossed=score.mql and not was_mql,
                    factors=list(score.factors),
                    rules_version=self._rules_version,
                    scored_at=now,
                ),
                source=SOURCE,
                correlation_id=event.envelope.correlationid,
            )
        )


def _fill(stored: Profile, seen: Profile) -> Profile:
    """Newer non-empty facts replace older ones; empty ones never erase what we knew."""
    updates = {k: v for k, v in seen.__dict__.items() if v is not None}
    return replace(stored, **updates)
