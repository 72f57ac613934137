"""Scorer's event handlers: each consumed event is noted, and every touched lead is scored once per batch.

What the scorer consumes is the `CONSUMES` table at the end."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.scorer import SERVICE
from services.scorer.active_model import ActiveModel
from services.scorer.domain.features import lead_features
from services.scorer.domain.rules import ScoringRules
from services.scorer.domain.scoring import Activity, Profile, Score, score_lead, with_model
from services.scorer.persistence import repository
from services.scorer.persistence.repository import ScoreRow, StoredScore
from shared.db.erasure import forget
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Event, new_event
from shared.events.models import (
    LeadActivity,
    LeadCaptured,
    LeadHandoffChanged,
    LeadMerged,
    LeadOutcomeRecorded,
    LeadOwnerChanged,
    LeadScored,
    LeadUnmerged,
    OpportunityClosed,
    PersonErased,
)
from shared.events.vocabulary import OpportunityStatus
from shared.ids import as_lead_id
from shared.messaging.subscription import Consumes, On, Subscription

SOURCE = f"/leadflow/{SERVICE}"


def profile_from(payload: LeadCaptured) -> Profile:
    """What a captured lead tells the scorer about who they are."""
    email = str(payload.contact.email or "")
    return Profile(
        name=payload.contact.full_name(),
        email=email or None,
        campaign=payload.source.utm_campaign,
        job_title=payload.contact.job_title,
        company=payload.company.name,
        free_mail=payload.free_mail,
        phone=payload.contact.phone,
        country=payload.company.country,
        industry=payload.company.industry,
        employees=payload.company.employees(),
        email_domain=email.rpartition("@")[2].lower() or None,
        source=payload.source.provider,
        utm_source=payload.source.utm_source,
        utm_medium=payload.source.utm_medium,
        answers=dict(payload.answers),
    )


def merge(stored: Profile, seen: Profile) -> Profile:
    """Newer non-empty facts replace older ones; empty ones never erase what we knew; answers merge by key."""
    updates = {k: v for k, v in seen.__dict__.items() if v is not None and k != "answers"}
    return replace(stored, **updates, answers={**stored.answers, **seen.answers})


@dataclass
class _Touched:
    seen: Profile = field(default_factory=Profile)
    activities: list[tuple[str, Activity]] = field(default_factory=list)
    correlation_id: str | None = None


class PendingScores:
    """The scorer's batch: the leads one transaction touched. `load` reads (and locks) their stored profiles in
    one query, handlers `note` what each event says, `save` scores them all and writes and announces the scores
    in a handful of statements."""

    def __init__(self, rules: ScoringRules, rules_version: str, model: ActiveModel) -> None:
        self._rules = rules
        self._rules_version = rules_version
        self._model = model
        self._leads: dict[str, _Touched] = {}
        self._stored: dict[str, StoredScore] = {}
        self._erased: set[str] = set()  # erased in this batch: later events of the batch must not bring them back

    async def load(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Read the stored profiles of every lead the batch rescores, in one query."""
        rescored = (LeadCaptured, LeadActivity)
        ids = [event.lead_id for event in events if isinstance(event.payload, rescored)]
        for event in events:
            if isinstance(event.payload, LeadMerged):
                ids.append(as_lead_id(event.payload.into))
            elif isinstance(event.payload, LeadUnmerged):
                ids += [event.lead_id, as_lead_id(event.payload.from_lead)]
        await self._read(uow.session, ids)

    async def _read(self, session: AsyncSession, lead_ids: Iterable[str]) -> None:
        """The stored profiles of leads the batch will score, and of the leads merged ones point at."""
        loaded = await repository.load_many(session, [i for i in lead_ids if i not in self._stored])
        self._stored |= loaded
        targets = {s.merged_into for s in loaded.values() if s.merged_into and s.merged_into not in self._stored}
        if targets:
            self._stored |= await repository.load_many(session, targets)

    def _target(self, lead_id: str) -> str:
        """A merged lead's news belongs to the lead it is merged into (it may arrive after the merge)."""
        stored = self._stored.get(lead_id)
        return stored.merged_into if stored is not None and stored.merged_into else lead_id

    def rescore(self, lead_id: str, correlation_id: str | None) -> None:
        """Score a lead again at the flush though nothing new happened to it (a merge changed what counts)."""
        if lead_id not in self._erased:
            self._leads.setdefault(lead_id, _Touched()).correlation_id = correlation_id

    def forget(self, lead_id: str) -> None:
        """Drop what the batch noted of an erased lead, and what it would note later."""
        self._erased.add(lead_id)
        self._leads.pop(lead_id, None)
        self._stored.pop(lead_id, None)

    def note(self, event: Event, activity: Activity, seen: Profile | None = None) -> None:
        """Remember an event's activity (and what it says about the lead) for the flush."""
        if self._target(event.lead_id) in self._erased:
            return
        touched = self._leads.setdefault(self._target(event.lead_id), _Touched())
        if seen is not None:
            touched.seen = merge(touched.seen, seen)
        touched.activities.append((event.id, activity))
        touched.correlation_id = event.envelope.correlationid

    async def save(self, uow: UnitOfWork) -> None:
        """Store the activities, rescore every touched lead, save, and emit one lead.scored per lead."""
        if not self._leads:
            return
        session = uow.session
        stored = self._stored
        await repository.add_activities(
            session,
            [(lead_id, event_id, a) for lead_id, t in self._leads.items() for event_id, a in t.activities],
        )
        history = await repository.activities_of_many(session, self._leads)
        history = {lead_id: history.get(lead_id, []) for lead_id in self._leads}
        now = datetime.now(UTC)
        lead_ids = list(self._leads)
        profiles = [
            merge(stored[lead_id].profile, self._leads[lead_id].seen)
            if lead_id in stored
            else self._leads[lead_id].seen
            for lead_id in lead_ids
        ]
        # Leads merged into one count for it; each lead's own profile is what is saved.
        scored_on, history = await repository.with_members(session, dict(zip(lead_ids, profiles, strict=True)), history)
        scores = [score_lead(scored_on[lead_id], history[lead_id], self._rules, now) for lead_id in lead_ids]
        features = [lead_features(scored_on[lead_id], history[lead_id], self._rules) for lead_id in lead_ids]
        scores = with_model(scores, features, self._model.model, self._model.version)
        await repository.save_many(
            session,
            [
                ScoreRow(
                    lead_id,
                    profile,
                    score,
                    activity_count=len(history[lead_id]),
                    rules_version=self._rules_version,
                    scored_at=now,
                    first_seen_at=stored[lead_id].first_seen_at if lead_id in stored else now,
                )
                for lead_id, profile, score in zip(lead_ids, profiles, scores, strict=True)
            ],
        )
        for lead_id, score in zip(lead_ids, scores, strict=True):
            uow.emit(self._scored(lead_id, score, stored.get(lead_id), now))
        self._leads, self._stored = {}, {}

    def _scored(self, lead_id: str, score: Score, before: StoredScore | None, now: datetime) -> Event:
        return new_event(
            scored_payload(lead_id, score, before, self._rules_version, now),
            source=SOURCE,
            correlation_id=self._leads[lead_id].correlation_id,
        )


def scored_payload(
    lead_id: str, score: Score, before: StoredScore | None, rules_version: str, now: datetime
) -> LeadScored:
    """The lead.scored payload of a new score, against the one stored before."""
    return LeadScored(
        lead_id=UUID(lead_id),
        fit=score.fit,
        engagement=score.engagement,
        score=score.score,
        segment=score.segment,
        previous_segment=before.segment if before else None,
        grade=score.grade,
        mql=score.mql,
        mql_crossed=score.mql and not (before.mql if before else False),
        factors=list(score.factors),
        rules_version=rules_version,
        scored_at=now,
        probability=score.probability,
        model_version=score.model_version,
    )


async def on_captured(scores: PendingScores, uow: UnitOfWork, event: Event[LeadCaptured]) -> None:
    """A lead arrived (or came back): update what we know and rescore."""
    payload = event.payload
    scores.note(event, Activity(payload.via, payload.captured_at), profile_from(payload))


async def on_activity(scores: PendingScores, uow: UnitOfWork, event: Event[LeadActivity]) -> None:
    """A known (or not yet known) lead did something: rescore."""
    payload = event.payload
    scores.note(event, Activity(payload.activity_type, payload.occurred_at, payload.minutes))


async def on_outcome(_: PendingScores, uow: UnitOfWork, event: Event[LeadOutcomeRecorded]) -> None:
    """Keep imported outcomes: the predictive model learns from them."""
    payload = event.payload
    await repository.record_outcome(
        uow.session, event.lead_id, payload.outcome, payload.source.provider, payload.recorded_at
    )


async def on_opportunity_closed(_: PendingScores, uow: UnitOfWork, event: Event[OpportunityClosed]) -> None:
    """A deal won or lost is the outcome of the lead behind it."""
    payload = event.payload
    outcome = "won" if payload.status == OpportunityStatus.WON else "lost"
    await repository.record_outcome(uow.session, event.lead_id, outcome, "opportunity", payload.closed_at)


async def on_merged(scores: PendingScores, uow: UnitOfWork, event: Event[LeadMerged]) -> None:
    """The lead (and those merged into it before) now count for another: point them at it and rescore it.
    The merged lead keeps its last score, out of the worklist."""
    payload = event.payload
    merged = [event.lead_id, *(str(c) for c in payload.carried)]
    await repository.set_merged_into(uow.session, merged, str(payload.into))
    scores.rescore(str(payload.into), event.envelope.correlationid)


async def on_unmerged(scores: PendingScores, uow: UnitOfWork, event: Event[LeadUnmerged]) -> None:
    """The lead is its own again (those it carried follow it): rescore it and the lead it was part of."""
    payload = event.payload
    await repository.set_merged_into(uow.session, [event.lead_id], None)
    await repository.set_merged_into(uow.session, [str(c) for c in payload.carried], event.lead_id)
    scores.rescore(event.lead_id, event.envelope.correlationid)
    scores.rescore(str(payload.from_lead), event.envelope.correlationid)


async def on_erased(scores: PendingScores, uow: UnitOfWork, event: Event[PersonErased]) -> None:
    """The person asked to be forgotten: their profile, scores, activities and outcomes go (so the next
    training cannot learn from them), and so do the lead.scored events this service published about them."""
    scores.forget(event.lead_id)
    await repository.erase(uow.session, [event.lead_id])
    await forget(uow, [event.lead_id], event.payload.erased_at)


async def on_owner_changed(_: PendingScores, uow: UnitOfWork, event: Event[LeadOwnerChanged]) -> None:
    """Who works the lead, for the worklist's owner filter."""
    payload = event.payload
    await repository.set_owner(uow.session, event.lead_id, payload.to_owner, payload.changed_at)


async def on_handoff(_: PendingScores, uow: UnitOfWork, event: Event[LeadHandoffChanged]) -> None:
    """Where the hand-off stands, for the worklist's SLA clock."""
    payload = event.payload
    await repository.set_handoff(uow.session, event.lead_id, payload.status, payload.due_at, payload.changed_at)


CONSUMES = Consumes[PendingScores](
    (
        On(LeadCaptured, on_captured),
        On(LeadActivity, on_activity),
        On(LeadOutcomeRecorded, on_outcome),
        On(OpportunityClosed, on_opportunity_closed),
        On(LeadOwnerChanged, on_owner_changed),
        On(LeadHandoffChanged, on_handoff),
        On(LeadMerged, on_merged),
        On(LeadUnmerged, on_unmerged),
        On(PersonErased, on_erased),
    ),
    decision="score",
)


def subscription(rules: ScoringRules, rules_version: str, model: ActiveModel) -> Subscription[PendingScores]:
    """The scorer's handlers, each transaction scoring by these rules and this model."""
    return Subscription(CONSUMES, lambda: PendingScores(rules, rules_version, model))
