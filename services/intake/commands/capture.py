"""Intake's one accept path: a delivery is staged once, each submission becoming lead events (a direct capture
is a group of one, a webhook group or an import chunk a group of many)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.exc import IntegrityError

from services.intake import SERVICE
from services.intake.commands import merging
from services.intake.domain import identity
from services.intake.domain.capture import Submission, to_activity, to_captured, to_outcome
from services.intake.domain.profile import merge_profile
from services.intake.persistence import identity_store, repository
from services.intake.webhooks.contract import Parsed
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import Event, new_event

SOURCE = f"/leadflow/{SERVICE}"
_CONFLICT_RETRIES = 3

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CaptureResult:
    """What the sender is told: the (first) event and lead, whether this was a retry, what waits for enrichment."""

    event_id: str | None
    lead_id: str | None
    duplicate: bool
    pending: int = 0


class IdempotencyMismatch(ValueError):
    """An idempotency key used again with another request: not a retry, so not answered as one."""


@dataclass(frozen=True)
class Arrival:
    """One delivery to stage: who sent it, what it says, and (direct capture) the request its key was used with.
    A delivery without an id (a direct capture without an Idempotency-Key) is never deduplicated."""

    provider: str
    parsed: Parsed
    request_hash: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.provider, self.parsed.delivery_id) if self.parsed.delivery_id else None


async def capture(
    uow_factory: UnitOfWorkFactory,
    submission: Submission,
    delivery_id: str | None,
    request_hash: str | None = None,
) -> CaptureResult:
    """Capture one submission (the direct API); `request_hash` binds its delivery id to the request."""
    parsed = Parsed(delivery_id or "", (submission,))
    return await accept(uow_factory, Arrival(submission.provider, parsed, request_hash))


async def accept(uow_factory: UnitOfWorkFactory, arrival: Arrival) -> CaptureResult:
    """Stage one delivery in a transaction of its own; a retry gets the original answer."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            async with uow_factory() as uow:
                [result] = await stage(uow, [arrival])
                await uow.commit()
        except IntegrityError:
            # A concurrent request inserted the same lead or delivery first; the next attempt sees it.
            if attempt == _CONFLICT_RETRIES - 1:
                raise
        else:
            log_committed(uow)
            return result
    raise AssertionError("unreachable")


async def stage(uow: UnitOfWork, arrivals: Sequence[Arrival]) -> list[CaptureResult]:
    """The one accept path: stage deliveries in the caller's unit of work (which commits them, alone, as a
    webhook group or as an import chunk) with a fixed number of statements for the common case. Returns each
    delivery's result in order; one accepted before, or earlier in the same call, answers the original."""
    session = uow.session
    originals = await repository.find_deliveries(session, [key for a in arrivals if (key := a.key) is not None])
    fresh, first = _to_stage(arrivals, originals)
    for index in fresh:
        for join in arrivals[index].parsed.joins:
            await repository.record_join(session, join)
    submissions = await _resolved(uow, {i: arrivals[i].parsed.submissions for i in fresh})
    profiles = await repository.load_leads(
        session, sorted({str(s.lead_id) for items in submissions.values() for s in items})
    )
    known = set(profiles)
    touched: set[str] = set()
    results: dict[int, CaptureResult] = {}
    recorded: list[tuple[str, str, repository.DeliveryRecord]] = []
    for index in fresh:
        arrival = arrivals[index]
        ids: list[tuple[str, str]] = []  # (event id, lead id) of each submission; the first answers the sender
        for item in submissions[index]:
            lead = str(item.lead_id)
            event, profile = emit_submission(uow, await _with_minutes(uow, item), profiles.get(lead))
            if profile is not None:
                profiles[lead] = profile
                touched.add(lead)
            ids.append((event, lead))
        pending = 0
        for waiting in arrival.parsed.pending:
            pending += await repository.queue_enrichment(session, arrival.provider, waiting)
        event_id, lead_id = ids[0] if ids else (None, None)
        results[index] = CaptureResult(event_id, lead_id, duplicate=False, pending=pending)
        if arrival.key is not None:
            record = repository.DeliveryRecord(event_id, lead_id, arrival.request_hash)
            recorded.append((*arrival.key, record))
    await repository.save_leads(
        session,
        new={lid: profiles[lid] for lid in touched - known},
        changed={lid: profiles[lid] for lid in touched & known},
    )
    await repository.record_deliveries(session, recorded)
    answers = []
    for index, arrival in enumerate(arrivals):
        if index in results:
            answers.append(results[index])
            continue
        assert arrival.key is not None  # only keyed deliveries are answered as duplicates
        original = originals.get(arrival.key) or results[first[arrival.key]]
        answers.append(CaptureResult(original.event_id, original.lead_id, duplicate=True))
    return answers


def _to_stage(
    arrivals: Sequence[Arrival], originals: dict[tuple[str, str], repository.DeliveryRecord]
) -> tuple[list[int], dict[tuple[str, str], int]]:
    """The indexes of the deliveries to stage (every unkeyed one, and the first of each key not accepted before),
    and where each key first stands. A key reused with another request is refused."""
    fresh: list[int] = []
    first: dict[tuple[str, str], int] = {}
    for index, arrival in enumerate(arrivals):
        key = arrival.key
        if key is not None and key in originals:
            recorded = originals[key]
            if recorded.request_hash and arrival.request_hash and recorded.request_hash != arrival.request_hash:
                raise IdempotencyMismatch("this Idempotency-Key was used before with another request")
        elif key is None or first.setdefault(key, index) == index:
            fresh.append(index)
    return fresh, first


def log_committed(uow: UnitOfWork) -> None:
    """Log the ids of what a unit of work committed (at debug level: skipped whole when that is off)."""
    if not logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
        return
    for event in uow.committed_events:
        # Ids only: the email and phone stay out of the logs.
        source = getattr(event.payload, "source", None)
        provider = getattr(source, "provider", None)
        log.debug(
            "lead.event_accepted", event_id=event.id, lead_id=event.lead_id, type=event.envelope.type, provider=provider
        )


async def _resolved(uow: UnitOfWork, submissions: dict[int, tuple[Submission, ...]]) -> dict[int, list[Submission]]:
    """Each submission pointed at the lead its identity keys lead to. Those carrying a source's own id may link
    or join two leads, one by one (`resolve`); the rest follow their address's link (a merge, a join), looked
    up in one query after those, so they see what the first ones linked."""
    resolved = {index: list(items) for index, items in submissions.items()}
    for items in resolved.values():
        for position, item in enumerate(items):
            if item.external_id:
                items[position] = await resolve(uow, item)
    plain = [s.email_key for items in resolved.values() for s in items if not s.external_id and s.email_key]
    found = await identity_store.links(uow.session, plain) if plain else {}
    if found:
        for items in resolved.values():
            for position, item in enumerate(items):
                if not item.external_id and item.email_key in found:
                    items[position] = replace(item, resolved=found[item.email_key])
    return resolved


async def _with_minutes(uow: UnitOfWork, item: Submission) -> Submission:
    """Attendance reported without its length takes it from when the participant joined, if we were told."""
    if item.minutes is None and "webinar_id" in item.answers and item.email:
        joined = await repository.joined_at(uow.session, item.answers["webinar_id"], item.email)
        if joined is not None:
            return replace(item, minutes=round(max(0.0, (item.occurred_at - joined).total_seconds()) / 60, 1))
    return item


async def resolve(uow: UnitOfWork, item: Submission) -> Submission:
    """The submission with the lead its identity keys point to. One carrying both an address and a source's
    id links the two; when each already had its own lead, the source's one is merged into the address's."""
    keys = [key for key in (item.email_key, item.external_key) if key]
    found = await identity_store.links(uow.session, keys)
    exists: set[UUID] = set()
    if len(keys) == 2:
        exists = await identity_store.existing(uow.session, {found.get(k, identity.derived_id(k)) for k in keys})
    decided = identity.resolve(item.email, item.external_key, found, exists, item.match)
    await identity_store.link(uow.session, decided.links)
    if decided.joins is not None:
        try:
            reason = f"the same {item.provider} id as a lead captured with an address"
            await merging.merge(uow, decided.joins, decided.lead_id, reason=reason, by=SERVICE)
        except merging.MergeError as exc:  # e.g. already merged elsewhere: the link alone is kept
            log.warning("identity.join_skipped", lead_id=str(decided.joins), into=str(decided.lead_id), error=str(exc))
    return replace(item, resolved=decided.lead_id)


def emit_submission(
    uow: UnitOfWork, item: Submission, existing: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """Emit a submission's events; returns the event id and the lead's new profile (None: profile unchanged).

    Attendance of a known lead is an activity; anything else captures (or re-captures) the lead.
    """
    event: Event
    if item.engagement_only and existing is not None:
        event, profile = new_event(to_activity(item), source=SOURCE), None
    else:
        event, profile = new_event(to_captured(item), source=SOURCE), merge_profile(existing, item)
    uow.emit(event)
    outcome = to_outcome(item)
    if outcome is not None:
        uow.emit(new_event(outcome, source=SOURCE, correlation_id=event.id))
    return event.id, profile
