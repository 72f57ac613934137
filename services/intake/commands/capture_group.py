"""Stage a group of deliveries with a fixed number of statements, whatever the group's size."""

from dataclasses import replace

from services.intake.commands.capture import CaptureResult, accept_in, emit_submission
from services.intake.domain.capture import Submission
from services.intake.persistence import identity_store, repository
from services.intake.webhooks.contract import Parsed
from shared.db.unit_of_work import UnitOfWork


async def accept_group(uow: UnitOfWork, group: list[tuple[str, Parsed]]) -> list[CaptureResult]:
    """The group's results, in order; duplicates within the group or from before answer the original."""
    if not all(_plain(parsed) for _, parsed in group):
        return [await accept_in(uow, provider, parsed) for provider, parsed in group]
    session = uow.session
    group = await _resolved(uow, group)
    originals = await repository.find_deliveries(session, [(p, parsed.delivery_id) for p, parsed in group])
    profiles = await repository.load_leads(
        session, sorted({str(s.lead_id) for _, parsed in group for s in parsed.submissions})
    )
    known = set(profiles)
    touched: set[str] = set()
    answered: dict[tuple[str, str], CaptureResult] = {}
    stored: list[tuple[str, str, repository.DeliveryRecord]] = []
    results = []
    for provider, parsed in group:
        key = (provider, parsed.delivery_id)
        if key in originals:
            original = originals[key]
            results.append(CaptureResult(original.event_id, original.lead_id, duplicate=True))
            continue
        if key in answered:
            first = answered[key]
            results.append(CaptureResult(first.event_id, first.lead_id, duplicate=True))
            continue
        first_ids: tuple[str, str] | None = None
        for item in parsed.submissions:
            lead_id = str(item.lead_id)
            event_id, profile = emit_submission(uow, item, profiles.get(lead_id))
            if profile is not None:
                profiles[lead_id] = profile
                touched.add(lead_id)
            first_ids = first_ids or (event_id, lead_id)
        result = CaptureResult(first_ids[0] if first_ids else None, first_ids[1] if first_ids else None, False)
        answered[key] = result
        stored.append((provider, parsed.delivery_id, repository.DeliveryRecord(result.event_id, result.lead_id)))
        results.append(result)
    await repository.save_leads(
        session,
        new={lid: profiles[lid] for lid in touched - known},
        changed={lid: profiles[lid] for lid in touched & known},
    )
    await repository.record_deliveries(session, stored)
    return results


async def _resolved(uow: UnitOfWork, group: list[tuple[str, Parsed]]) -> list[tuple[str, Parsed]]:
    """The group with each submission pointed at the lead its address links to (a merge or a join), in one
    query; addresses without a link keep the lead they derive."""
    found = await identity_store.links(
        uow.session, [key for _, parsed in group for s in parsed.submissions if (key := s.email_key)]
    )
    if not found:
        return group
    return [
        (
            provider,
            replace(
                parsed,
                submissions=tuple(
                    replace(s, resolved=found[s.email_key]) if s.email_key in found else s for s in parsed.submissions
                ),
            ),
        )
        for provider, parsed in group
    ]


def _plain(parsed: Parsed) -> bool:
    """Deliveries that need nothing but their own submissions (no webinar joins, no enrichment queue)."""
    return not parsed.joins and not parsed.pending and all(_self_contained(s) for s in parsed.submissions)


def _self_contained(item: Submission) -> bool:
    # A source's own id may join two leads (commands/capture.py, resolve): that takes the one-by-one path.
    return not (item.minutes is None and "webinar_id" in item.answers) and not item.external_id
