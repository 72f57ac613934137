"""Passes over every stored lead: decay re-scoring (segment changes become lead.scored) and re-prediction after
a new model is activated. Each page is one transaction; a lead scored by the consumer meanwhile is left alone."""

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime

import structlog
from sqlalchemy import and_, bindparam, update

from services.scorer.active_model import ActiveModel
from services.scorer.domain.features import lead_features
from services.scorer.domain.rules import ScoringRules
from services.scorer.domain.scoring import Activity, Profile, Score, score_lead, with_model
from services.scorer.handlers import SOURCE, scored_payload
from services.scorer.persistence import repository
from services.scorer.persistence.repository import StoredScore
from services.scorer.persistence.tables import profiles
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import new_event

log = structlog.get_logger(__name__)

_PAGE = 500
Decide = Callable[[StoredScore, Score], bool]

_UPDATE = (
    update(profiles)
    .where(and_(profiles.c.lead_id == bindparam("b_lead_id"), profiles.c.scored_at == bindparam("b_scored_at")))
    .values(
        fit=bindparam("fit"),
        engagement=bindparam("engagement"),
        score=bindparam("score"),
        segment=bindparam("segment"),
        mql=bindparam("mql"),
        factors=bindparam("factors"),
        probability=bindparam("probability"),
        model_version=bindparam("model_version"),
        scored_at=bindparam("scored_at"),
    )
)


async def rescore_for_decay(
    uow: UnitOfWorkFactory,
    rules: ScoringRules,
    rules_version: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Recompute every lead's score as time passed; store and announce those whose segment or MQL changed."""

    def rescore(stored: StoredScore, history_score: Score) -> Score:
        model_factors = tuple(f for f in stored.factors if f.kind == "model")
        return replace(
            history_score,
            factors=history_score.factors + model_factors,
            probability=stored.probability,
            model_version=stored.model_version,
        )

    changed = 0
    async for unit, page, scored_on, history in _pages(uow):
        now = clock()
        moved = []
        for lead_id, stored in page.items():
            score = rescore(stored, score_lead(scored_on[lead_id], history[lead_id], rules, now))
            if score.segment != stored.segment or score.mql != stored.mql:
                moved.append((lead_id, stored, score))
        written = await _write(unit, moved, now)
        for lead_id, stored, score in moved:
            if lead_id in written:
                unit.emit(new_event(scored_payload(lead_id, score, stored, rules_version, now), source=SOURCE))
        await unit.commit()
        changed += len(written)
    if changed:
        log.info("scores.decayed", leads=changed)
    return changed


async def repredict(uow: UnitOfWorkFactory, rules: ScoringRules, active: ActiveModel) -> int:
    """Give every stored lead the active model's probability and reasons (no events: segments do not change)."""
    updated = 0
    async for unit, page, scored_on, history in _pages(uow):
        now = datetime.now(UTC)
        lead_ids = list(page)
        current = [_as_score(page[lead_id]) for lead_id in lead_ids]
        features = [lead_features(scored_on[i], history[i], rules) for i in lead_ids]
        scores = with_model(current, features, active.model, active.version)
        written = await _write(unit, [(i, page[i], s) for i, s in zip(lead_ids, scores, strict=True)], now)
        await unit.commit()
        updated += len(written)
    log.info("scores.repredicted", leads=updated, model_version=active.version)
    return updated


async def _pages(
    uow: UnitOfWorkFactory,
) -> AsyncIterator[tuple[UnitOfWork, dict[str, StoredScore], dict[str, Profile], dict[str, list[Activity]]]]:
    """Every stored lead that is not merged, a page at a time, each page in a transaction of its own (the caller
    commits it) with what each lead is scored on."""
    after = ""
    while True:
        async with uow() as unit:
            page = await repository.page(unit.session, after, _PAGE)
            if not page:
                return
            after = max(page)
            page = {lead_id: stored for lead_id, stored in page.items() if not stored.merged_into}
            scored_on, history = await _with_members(unit, page)
            yield unit, page, scored_on, history


async def _with_members(
    unit: UnitOfWork, page: dict[str, StoredScore]
) -> tuple[dict[str, Profile], dict[str, list[Activity]]]:
    """What each lead of a page is scored on: with the leads merged into it (a merged lead itself is skipped)."""
    history = await repository.activities_of_many(unit.session, page)
    own = {lead_id: stored.profile for lead_id, stored in page.items()}
    return await repository.with_members(unit.session, own, {i: history.get(i, []) for i in page})


def _as_score(stored: StoredScore) -> Score:
    """The stored score as the domain's value (fit and engagement are not needed again: they stay)."""
    return Score(
        fit=stored.fit,
        engagement=stored.engagement,
        score=stored.score,
        segment=stored.segment,
        mql=stored.mql,
        factors=stored.factors,
        probability=stored.probability,
        model_version=stored.model_version,
    )


async def _write(unit: UnitOfWork, rows: list[tuple[str, StoredScore, Score]], now: datetime) -> set[str]:
    """Update the rows nobody rescored since they were read; the ids actually written."""
    written: set[str] = set()
    for lead_id, stored, score in rows:
        result = await unit.session.execute(
            _UPDATE,
            {
                "b_lead_id": lead_id,
                "b_scored_at": stored.stamp,
                "fit": score.fit,
                "engagement": score.engagement,
                "score": score.score,
                "segment": score.segment.value,
                "mql": score.mql,
                "factors": [f.model_dump() for f in score.factors],
                "probability": score.probability,
                "model_version": score.model_version,
                "scored_at": now,
            },
        )
        if result.rowcount:  # type: ignore[attr-defined]
            written.add(lead_id)
    return written
