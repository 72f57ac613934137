"""The qualifier's aggregate: one lead as the stage machine sees it (a row of its `leads` table)."""

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from shared.events.vocabulary import LeadStage
from shared.ids import LeadId


@dataclass(slots=True)
class Lead:
    """What the qualifier knows of a lead and where it stands. Commands and handlers change it in place; the
    transaction's lead rows (persistence/lead_rows.py) write back what changed."""

    lead_id: LeadId
    stage: str | None  # None only until its first move (to `lead`), in the transaction that creates it
    stage_changed_at: datetime
    updated_at: datetime
    mql: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    company: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    owner: str | None = None
    team: str | None = None
    score: float | None = None
    segment: str | None = None
    probability: float | None = None
    last_activity_at: datetime | None = None
    merged_into: LeadId | None = None
    # The hand-off to the owner routing chose: pending until accepted or rejected, breached when late.
    handoff_status: str | None = None
    handoff_at: datetime | None = None
    handoff_due_at: datetime | None = None

    @property
    def current_stage(self) -> LeadStage:
        """Its stage: every lead has one from the transaction that first names it on."""
        if self.stage is None:
            raise ValueError(f"lead {self.lead_id} has not entered the funnel yet")
        return LeadStage(self.stage)


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Lead))
