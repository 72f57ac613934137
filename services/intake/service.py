"""Intake's command handler: capture a submission once, remembering the delivery that carried it."""

from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError

from services.intake import SERVICE
from services.intake.domain.capture import Submission, to_captured
from services.intake.domain.profile import merge_profile
from services.intake.persistence import repository
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import new_event

SOURCE = f"/leadflow/{SERVICE}"

log = structlog.get_logger(__name__)
_CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class CaptureResult:
    """What a submission's sender is told: the event, the lead and whether this was a retry."""

    event_id: str
    lead_id: str
    duplicate: bool


async def capture(uow_factory: UnitOfWorkFactory, submission: Submission, delivery_id: str | None) -> CaptureResult:
    """Store the submission and its lead.captured event in one transaction; retries answer the original."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            return await _capture_once(uow_factory, submission, delivery_id)
        except IntegrityError:
            # A concurrent request inserted the same lead or delivery first; read its result and go on.
            if attempt == _CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _capture_once(
    uow_factory: UnitOfWorkFactory, submission: Submission, delivery_id: str | None
) -> CaptureResult:
    async with uow_factory() as uow:
        if delivery_id is not None:
            original = await repository.find_delivery(uow.session, submission.provider, delivery_id)
            if original is not None:
                return CaptureResult(original.event_id, original.lead_id, duplicate=True)
        payload = to_captured(submission)
        lead_id = str(payload.lead_id)
        existing = await repository.load_lead(uow.session, lead_id)
        await repository.save_lead(uow.session, lead_id, merge_profile(existing, submission), is_new=existing is None)
        event = new_event(payload, source=SOURCE)
        uow.emit(event)
        if delivery_id is not None:
            await repository.record_delivery(
                uow.session, submission.provider, delivery_id, repository.DeliveryRecord(event.id, lead_id)
            )
        await uow.commit()
    # Ids only: the email and phone stay out of the logs.
    log.info("lead.captured", event_id=event.id, lead_id=lead_id, provider=submission.provider, new=existing is None)
    return CaptureResult(event.id, lead_id, duplicate=False)
