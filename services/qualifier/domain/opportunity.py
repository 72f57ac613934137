"""The opportunity lifecycle: open, change, close won or lost; pure state transitions."""

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from services.qualifier.domain.rules import OpportunityRules, PipelineStage
from shared.events.vocabulary import ForecastCategory, OpportunityStatus


class OpportunityError(ValueError):
    """A change the opportunity's state or the rules do not allow."""


class UnknownPipelineStage(OpportunityError):
    """A pipeline stage the rules do not define."""


@dataclass(frozen=True)
class Opportunity:
    """An opportunity as the qualifier keeps it."""

    opportunity_id: UUID
    lead_id: UUID
    revision: int
    name: str
    amount: Decimal
    currency: str
    pipeline_stage: str
    probability: float
    forecast_category: ForecastCategory
    expected_close_date: date
    status: OpportunityStatus
    owner: str | None
    source: str | None
    opened_at: datetime
    changed_at: datetime
    close_reason: str | None = None
    closed_at: datetime | None = None


def open_opportunity(
    rules: OpportunityRules,
    *,
    lead_id: UUID,
    name: str,
    amount: Decimal,
    currency: str | None,
    expected_close_date: date,
    pipeline_stage: str | None,
    owner: str | None,
    source: str | None,
    now: datetime,
) -> Opportunity:
    """A new open opportunity at the given (or default) pipeline stage."""
    stage = pipeline_stage or rules.default_stage
    config = _stage(rules, stage)
    return Opportunity(
        opportunity_id=uuid4(),
        lead_id=lead_id,
        revision=1,
        name=name,
        amount=money(amount),
        currency=(currency or rules.currency).upper(),
        pipeline_stage=stage,
        probability=config.probability,
        forecast_category=config.category,
        expected_close_date=expected_close_date,
        status=OpportunityStatus.OPEN,
        owner=owner,
        source=source,
        opened_at=now,
        changed_at=now,
    )


def change(
    rules: OpportunityRules,
    opportunity: Opportunity,
    *,
    now: datetime,
    name: str | None = None,
    amount: Decimal | None = None,
    expected_close_date: date | None = None,
    pipeline_stage: str | None = None,
    forecast_category: ForecastCategory | None = None,
    probability: float | None = None,
    owner: str | None = None,
) -> Opportunity:
    """Apply a rep's edit; a new stage brings its default probability and category unless given."""
    _require_open(opportunity)
    updated = opportunity
    if pipeline_stage is not None and pipeline_stage != opportunity.pipeline_stage:
        config = _stage(rules, pipeline_stage)
        updated = replace(
            updated, pipeline_stage=pipeline_stage, probability=config.probability, forecast_category=config.category
        )
    if forecast_category is ForecastCategory.CLOSED:
        raise OpportunityError("use the close route to close an opportunity")
    updated = replace(
        updated,
        name=name if name is not None else updated.name,
        amount=money(amount) if amount is not None else updated.amount,
        expected_close_date=expected_close_date or updated.expected_close_date,
        forecast_category=forecast_category or updated.forecast_category,
        probability=probability if probability is not None else updated.probability,
        owner=owner if owner is not None else updated.owner,
    )
    if updated == opportunity:
        return opportunity
    return replace(updated, revision=opportunity.revision + 1, changed_at=now)


def close(
    opportunity: Opportunity,
    *,
    won: bool,
    reason: str | None,
    amount: Decimal | None,
    now: datetime,
    close_date: date | None = None,
) -> Opportunity:
    """End the opportunity; a won deal may record its final amount."""
    _require_open(opportunity)
    return replace(
        opportunity,
        revision=opportunity.revision + 1,
        status=OpportunityStatus.WON if won else OpportunityStatus.LOST,
        amount=money(amount) if amount is not None else opportunity.amount,
        probability=1.0 if won else 0.0,
        forecast_category=ForecastCategory.CLOSED if won else ForecastCategory.OMITTED,
        pipeline_stage="closed_won" if won else "closed_lost",
        expected_close_date=close_date or now.date(),
        close_reason=reason,
        closed_at=now,
        changed_at=now,
    )


def money(amount: Decimal) -> Decimal:
    """Amounts are kept to the cent, as they are stored."""
    return amount.quantize(Decimal("0.01"))


def _require_open(opportunity: Opportunity) -> None:
    if opportunity.status is not OpportunityStatus.OPEN:
        raise OpportunityError(f"opportunity {opportunity.opportunity_id} is already {opportunity.status.value}")


def _stage(rules: OpportunityRules, stage: str) -> PipelineStage:
    config = rules.stages.get(stage)
    if config is None:
        raise UnknownPipelineStage(f"unknown pipeline stage {stage!r}; known: {', '.join(rules.stages)}")
    return config
