"""Opportunity history: every revision kept, so the pipeline can be seen as it stood at any moment."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shared.events.vocabulary import ForecastCategory, OpportunityStatus


@dataclass(frozen=True)
class Revision:
    """One snapshot of an opportunity, effective from `changed_at`."""

    opportunity_id: str
    revision: int
    amount: Decimal
    currency: str
    pipeline_stage: str
    probability: float
    category: ForecastCategory
    expected_close_date: date
    status: OpportunityStatus
    source: str | None
    owner: str | None
    opened_at: datetime
    changed_at: datetime
    closed_at: datetime | None = None
    close_reason: str | None = None
    lead_id: str | None = None

    @property
    def closed_on(self) -> date:
        """The day a closed deal closed (its expected close date when the close time is unknown)."""
        return self.closed_at.date() if self.closed_at else self.expected_close_date


def as_of(revisions: Iterable[Revision], moment: datetime) -> list[Revision]:
    """Each opportunity's latest revision effective at `moment`; those opened later do not exist yet."""
    latest: dict[str, Revision] = {}
    for r in revisions:
        if r.changed_at > moment or r.opened_at > moment:
            continue
        known = latest.get(r.opportunity_id)
        if known is None or r.revision > known.revision:  # revisions only grow; a late, stale one never wins
            latest[r.opportunity_id] = r
    return list(latest.values())


def age_days(opened_at: datetime, moment: datetime) -> float:
    """How long an opportunity has been open at `moment`."""
    return max(0.0, (moment - opened_at).total_seconds() / 86_400)
