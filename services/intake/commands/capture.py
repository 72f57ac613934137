"""Intake's command handler: accept a delivery once, turning each submission into lead events."""

import logging
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


async def capture(
    uow_factory: UnitOfWorkFactory,
    submission: Submission,
    delivery_id: str | None,
    request_hash: str | None = None,
) -> CaptureResult:
    """Capture one submission (the direct API and imports); `request_hash` binds its delivery id to the request."""
    return await accept(
        uow_factory,
        submission.provider,
        Parsed(delivery_id or "", (submission,)),
        dedupe=delivery_id is not None,
        request_hash=request_hash,
    )


async def accept(
    uow_factory: UnitOfWorkFactory,
    provider: str,
    parsed: Parsed,
    *,
    dedupe: bool = True,
    request_hash: str | None = None,
) -> CaptureResult:
    """Store a delivery's submissions and their events in one transaction; a retry gets the original answer."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            return await _accept_once(uow_factory, provider, parsed, dedupe=dedupe, request_hash=request_hash)
        except IntegrityError:
            # A concurrent request inserted the same lead or delivery first; the next attempt sees it.
            if attempt == _CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _accept_once(
    uow_factory: UnitOfWorkFactory, provider: str, parsed: Parsed, *, dedupe: bool, request_hash: str | None
) -> CaptureResult:
    async with uow_factory() as uow:
        result = await accept_in(uow, provider, parsed, dedupe=dedupe, request_hash=request_hash)
        await uow.commit()
    log_committed(uow, provider)
    return result


async def accept_in(
    uow: UnitOfWork, provider: str, parsed: Parsed, *, dedupe: bool = True, request_hash: str | None = None
) -> CaptureResult:
    """Stage one delivery in the caller's unit of work (which commits it, alone or with others)."""
    if dedupe:
        original = await repository.find_delivery(uow.session, provider, parsed.delivery_id)
        if original is not None:
            if original.request_hash and request_hash and original.request_hash != request_hash:
                raise IdempotencyMismatch("this Idempotency-Key was used before with another request")
            return CaptureResult(original.event_id, original.lead_id, duplicate=True)
    for join in parsed.joins:
        await repository.record_join(uow.session, join)
    first: tuple[str, str] | None = None
    for item in parsed.submissions:
        event_id, lead_id = await capture_one(uow, item)
        first = first or (event_id, lead_id)
    pending = 0
    for waiting in parsed.pending:
        pending += await repository.queue_enrichment(uow.session, provider, waiting)
    if dedupe:
        record = repository.DeliveryRecord(first[0] if first else None, first[1] if first else None, request_hash)
        await repository.record_delivery(uow.session, provider, parsed.delivery_id, record)
    return CaptureResult(first[0] if first else None, first[1] if first else None, duplicate=False, pending=pending)


def log_committed(uow: UnitOfWork, provider: str) -> None:
    """Log the ids of what a unit of work committed (at debug level: skipped whole when that is off)."""
    if not logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
        return
    for event in uow.committed_events:
        # Ids only: the email and phone stay out of the logs.
        log.debug(
            "lead.event_accepted", event_id=event.id, lead_id=event.lead_id, type=event.envelope.type, provider=provider
        )


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


async def capture_one(uow: UnitOfWork, item: Submission) -> tuple[str, str]:
    """Store one submission and emit its events in the caller's unit of work; (event id, lead id)."""
    item = await resolve(uow, item)
    lead_id = str(item.lead_id)
    existing = await repository.load_lead(uow.session, lead_id)
    if item.minutes is None and "webinar_id" in item.answers and item.email:
        joined = await repository.joined_at(uow.session, item.answers["webinar_id"], item.email)
        if joined is not None:
            item = replace(item, minutes=round(max(0.0, (item.occurred_at - joined).total_seconds()) / 60, 1))
    event_id, profile = emit_submission(uow, item, existing)
    if profile is not None:
        await repository.save_lead(uow.session, lead_id, profile, is_new=existing is None)
    return event_id, lead_id


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
